using System.Runtime.CompilerServices;
using Engine.Core;
using Engine.Core.Kv;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// LagKV (docs/lagkv.md) on the device through <see cref="ILagKvOps"/>; emptied pages go back to the
/// pool and positions stay logical (the sequence's logical length is not touched).
/// Reference mode: after each step's attention, every non-skipped layer whose uncompressed window
/// holds at least 2L tokens has its due partitions scored and reduced to k tokens each.
/// Press mode (kvpress): once, after the last prefill chunk, each layer keeps floor(T * r) tokens
/// chosen by one top-k over in-partition ranks, with the sink and the tail forced in.
/// </summary>
public sealed class LagKvPolicy : ITimedKvPolicy, IDisposable
{
    private readonly ConditionalWeakTable<SequenceKv, SequenceState> _sequences = new();
    private readonly LagKvWorkspace _workspace = new();
    private SequenceState? _last;

    /// <param name="options">LagKV's parameters; validate them against the model first (<see cref="LagKvOptions.Validate"/>).</param>
    public LagKvPolicy(LagKvOptions options) => Options = options;

    /// <summary>The parameters this policy compresses with.</summary>
    public LagKvOptions Options { get; }

    /// <summary>Times each compression (benchmarks); null: no synchronization, no clock.</summary>
    public KvCompressionTimer? Timer { get; set; }

    /// <summary>Compresses the step's layer when the schedule says so (see the class summary); called by the forward pass.</summary>
    public void AfterAttention(KvStepContext step)
    {
        if (!Options.Compresses(step.Layer)) return;
        if (step.Backend is not ILagKvOps ops)
            throw new EngineException($"LagKV is not supported on the {step.Backend.Name} backend");
        SequenceState state = _sequences.GetValue(step.Sequence, s => new SequenceState(s.Layers.Length));
        _last = state;
        if (Options.Mode == LagKvMode.Press) Press(step, ops, state);
        else Compress(step, ops, state);
    }

    private void Compress(KvStepContext step, ILagKvOps ops, SequenceState state)
    {
        LayerKv layer = step.Sequence.Layers[step.Layer];
        LagKvLayerState layerState = state.Layers[step.Layer];
        if (LagKvSchedule.Plan(Options, layerState.CompressedPartitions, layer.PhysicalLength) is not { } c) return;

        IBackend b = step.Backend;
        long started = Timer?.Start(b) ?? 0;
        long jobs = (long)step.Pool.KvHeads * c.Partitions;
        DeviceArray scores = _workspace.Scores(b, jobs * c.LagSize), kept = _workspace.Kept(b, jobs * c.Keep);
        ops.LagKvScore(step.Pool, step.PageTable, c, (float)Options.ValueWeight, scores);
        ops.LagKvSelect(scores, step.Pool.KvHeads, c, kept);
        ops.LagKvCompact(step.Pool, step.PageTable, c, kept, _workspace.Scratch(b, step.Pool.DType, ILagKvOps.LagKvCompactScratchElements(step.Pool, c)));
        layer.Shrink(c.LengthAfter, step.Sequence.Allocator);
        layerState.Apply(c);
        state.Compressions[step.Layer]++;
        Timer?.Stop(b, step.IsPrefill, started);
    }

    /// <summary>kvpress semantics: compress once, after the context prefill; the question and generated tokens stay.</summary>
    private void Press(KvStepContext step, ILagKvOps ops, SequenceState state)
    {
        if (!step.IsPrefill || !step.IsLastPrefillChunk || state.Compressions[step.Layer] > 0) return;
        LayerKv layer = step.Sequence.Layers[step.Layer];
        int tokens = layer.PhysicalLength;
        if (LagKvSchedule.PressScoring(Options, tokens) is not { } scoring) return;
        LagKvCompression selection = LagKvSchedule.PressSelection(Options, tokens);

        IBackend b = step.Backend;
        long started = Timer?.Start(b) ?? 0;
        int heads = step.Pool.KvHeads;
        DeviceArray scores = _workspace.Scores(b, (long)heads * scoring.Partitions * scoring.LagSize);
        DeviceArray pressScores = _workspace.PressScores(b, (long)heads * tokens);
        DeviceArray kept = _workspace.Kept(b, (long)heads * selection.Keep);
        ops.LagKvScore(step.Pool, step.PageTable, scoring, (float)Options.ValueWeight, scores);
        ops.LagKvPressScores(scores, heads, scoring, pressScores);
        ops.LagKvSelect(pressScores, heads, selection, kept);
        ops.LagKvCompact(step.Pool, step.PageTable, selection, kept, _workspace.Scratch(b, step.Pool.DType, ILagKvOps.LagKvCompactScratchElements(step.Pool, selection)));
        layer.Shrink(selection.LengthAfter, step.Sequence.Allocator);
        state.Compressions[step.Layer]++;
        Timer?.Stop(b, step.IsPrefill, started);
    }

    /// <summary>Per-layer statistics of a sequence this policy has seen (all layers, skipped ones included).</summary>
    public IReadOnlyList<LagKvLayerStats> Stats(SequenceKv sequence)
    {
        _sequences.TryGetValue(sequence, out SequenceState? state);
        return sequence.Layers.Select((layer, i) => new LagKvLayerStats(
            i, !Options.Compresses(i), state?.Compressions[i] ?? 0, state?.Layers[i].CompressedPartitions ?? 0,
            layer.PhysicalLength, sequence.LogicalLength)).ToArray();
    }

    /// <summary>
    /// Per-layer statistics of the most recent sequence this policy compressed, given its final
    /// lengths (e.g. GenerationStats.Layers, once the request ended and its cache is gone).
    /// </summary>
    public IReadOnlyList<LagKvLayerStats> LastSequenceStats(IReadOnlyList<Generation.LayerKvLength> lengths) =>
        lengths.Select((length, i) => new LagKvLayerStats(
            i, !Options.Compresses(i), _last?.Compressions[i] ?? 0, _last?.Layers[i].CompressedPartitions ?? 0,
            length.PhysicalLength, length.LogicalLength)).ToArray();

    /// <summary>Forgets a sequence's compression state (call when its cache is released or reset).</summary>
    public void Forget(SequenceKv sequence) => _sequences.Remove(sequence);

    /// <summary>Frees the device scratch arrays.</summary>
    public void Dispose() => _workspace.Dispose();

    private sealed class SequenceState(int layers)
    {
        public LagKvLayerState[] Layers { get; } = Enumerable.Range(0, layers).Select(_ => new LagKvLayerState()).ToArray();
        public int[] Compressions { get; } = new int[layers];
    }
}
