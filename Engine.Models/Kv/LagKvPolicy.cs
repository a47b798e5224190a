using System.Runtime.CompilerServices;
using Engine.Core;
using Engine.Core.Kv;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// LagKV in reference mode (docs/lagkv.md): after each step's attention, every non-skipped layer
/// whose uncompressed window holds at least 2L tokens has its due partitions scored, reduced to k
/// tokens each and compacted on the device (<see cref="ILagKvOps"/>), and its emptied pages go back
/// to the pool. Positions stay logical: the sequence's logical length is not touched.
/// </summary>
public sealed class LagKvPolicy : IKvCachePolicy, IDisposable
{
    private readonly ConditionalWeakTable<SequenceKv, SequenceState> _sequences = new();
    private readonly LagKvWorkspace _workspace = new();

    public LagKvPolicy(LagKvOptions options)
    {
        if (options.Mode != LagKvMode.Reference)
            throw new EngineException("--lagkv-mode press is not available yet; use --lagkv-mode reference");
        Options = options;
    }

    public LagKvOptions Options { get; }

    public void AfterAttention(KvStepContext step)
    {
        if (!Options.Compresses(step.Layer)) return;
        if (step.Backend is not ILagKvOps ops)
            throw new EngineException($"LagKV is not supported on the {step.Backend.Name} backend");
        SequenceState state = _sequences.GetValue(step.Sequence, s => new SequenceState(s.Layers.Length));
        LayerKv layer = step.Sequence.Layers[step.Layer];
        LagKvLayerState layerState = state.Layers[step.Layer];
        if (LagKvSchedule.Plan(Options, layerState.CompressedPartitions, layer.PhysicalLength) is not { } c) return;

        var (scores, kept, scratch) = _workspace.For(step.Backend, step.Pool, c);
        ops.LagKvScore(step.Pool, step.PageTable, c, (float)Options.ValueWeight, scores);
        ops.LagKvSelect(scores, step.Pool.KvHeads, c, kept);
        ops.LagKvCompact(step.Pool, step.PageTable, c, kept, scratch);
        layer.Shrink(c.LengthAfter, step.Sequence.Allocator);
        layerState.Apply(c);
        state.Compressions[step.Layer]++;
    }

    /// <summary>Per-layer statistics of a sequence this policy has seen (all layers, skipped ones included).</summary>
    public IReadOnlyList<LagKvLayerStats> Stats(SequenceKv sequence)
    {
        _sequences.TryGetValue(sequence, out SequenceState? state);
        return sequence.Layers.Select((layer, i) => new LagKvLayerStats(
            i, !Options.Compresses(i), state?.Compressions[i] ?? 0, state?.Layers[i].CompressedPartitions ?? 0,
            layer.PhysicalLength, sequence.LogicalLength)).ToArray();
    }

    /// <summary>Forgets a sequence's compression state (call when its cache is released or reset).</summary>
    public void Forget(SequenceKv sequence) => _sequences.Remove(sequence);

    public void Dispose() => _workspace.Dispose();

    private sealed class SequenceState(int layers)
    {
        public LagKvLayerState[] Layers { get; } = Enumerable.Range(0, layers).Select(_ => new LagKvLayerState()).ToArray();
        public int[] Compressions { get; } = new int[layers];
    }
}
