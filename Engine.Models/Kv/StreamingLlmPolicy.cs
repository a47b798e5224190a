using System.Runtime.CompilerServices;
using Engine.Core.Kv;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// The StreamingLLM baseline at LagKV's budget: keep the first <see cref="SinkTokens"/> tokens and the
/// most recent ones, no scoring. It evicts exactly when and as much as LagKV with the same options
/// would, so at every step both hold the same number of slots (equal-budget comparisons); the
/// eviction is one move of the recent window down behind the sink (<see cref="ILagKvOps.LagKvCompact"/>).
/// </summary>
public sealed class StreamingLlmPolicy : IKvCachePolicy, IDisposable
{
    /// <summary>Attention-sink tokens kept at the start (StreamingLLM's 4).</summary>
    public const int SinkTokens = 4;

    private readonly ConditionalWeakTable<SequenceKv, LagKvLayerState[]> _sequences = new();
    private readonly LagKvWorkspace _workspace = new();

    /// <param name="budget">The LagKV options whose length schedule sets the budget (their sink must be at least 4).</param>
    public StreamingLlmPolicy(LagKvOptions budget)
    {
        if (budget.SinkSize < SinkTokens)
            throw new Core.EngineException($"--kv-policy streaming keeps {SinkTokens} sink tokens and needs --sink-size >= {SinkTokens}, got {budget.SinkSize}");
        Budget = budget;
    }

    public LagKvOptions Budget { get; }

    public void AfterAttention(KvStepContext step)
    {
        if (!Budget.Compresses(step.Layer)) return;
        if (step.Backend is not ILagKvOps ops)
            throw new Core.EngineException($"--kv-policy streaming is not supported on the {step.Backend.Name} backend");
        LagKvLayerState[] states = _sequences.GetValue(step.Sequence, s => s.Layers.Select(_ => new LagKvLayerState()).ToArray());
        LayerKv layer = step.Sequence.Layers[step.Layer];
        LagKvLayerState state = states[step.Layer];
        if (LagKvSchedule.Plan(Budget, state.CompressedPartitions, layer.PhysicalLength) is not { } due) return;

        // Drop as many tokens as LagKV would, all of them the oldest after the sink.
        int evicted = due.LengthBefore - due.LengthAfter;
        var move = new LagKvCompression(SinkTokens, 0, 1, evicted, 0, layer.PhysicalLength - SinkTokens - evicted);
        ops.LagKvCompact(step.Pool, step.PageTable, move, _workspace.Kept(step.Backend, 0),
            _workspace.Scratch(step.Backend, step.Pool.DType, ILagKvOps.LagKvCompactScratchElements(step.Pool, move)));
        layer.Shrink(move.LengthAfter, step.Sequence.Allocator);
        state.Apply(due);
    }

    public void Dispose() => _workspace.Dispose();
}
