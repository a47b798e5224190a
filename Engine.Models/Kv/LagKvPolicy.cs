using Engine.Core;
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
public sealed class LagKvPolicy : ITimedKvPolicy
{
    /// <param name="options">LagKV's parameters; validate them against the model first (<see cref="LagKvOptions.Validate"/>).</param>
    public LagKvPolicy(LagKvOptions options) => Options = options;

    /// <summary>The parameters this policy compresses with.</summary>
    public LagKvOptions Options { get; }

    /// <summary>Times each compression (benchmarks); null: no synchronization, no clock.</summary>
    public KvCompressionTimer? Timer { get; set; }

    public string Name => "lagkv";
    public bool Compresses(int layer) => Options.Compresses(layer);
    public KvPolicyState CreateState(int layers) => new LagKvState(layers);

    /// <summary>Compresses the step's layer when the schedule says so (see the class summary); called by the forward pass.</summary>
    public void AfterAttention(KvStepContext step)
    {
        if (!Options.Compresses(step.Layer)) return;
        if (step.Backend is not ILagKvOps ops)
            throw new EngineException($"LagKV is not supported on the {step.Backend.Name} backend");
        var state = step.State<LagKvState>();
        if (Options.Mode == LagKvMode.Press) Press(step, ops, state);
        else Compress(step, ops, state);
    }

    private void Compress(KvStepContext step, ILagKvOps ops, LagKvState state)
    {
        LayerKv layer = step.Sequence.Layers[step.Layer];
        LagKvLayerState layerState = state.Layers[step.Layer];
        if (LagKvSchedule.Plan(Options, layerState.CompressedPartitions, layer.PhysicalLength) is not { } c) return;

        IBackend b = step.Backend;
        long started = Timer?.Start(b) ?? 0;
        long jobs = (long)step.Pool.KvHeads * c.Partitions;
        DeviceArray scores = step.Scratch.Scores(jobs * c.LagSize), kept = step.Scratch.Kept(jobs * c.Keep);
        ops.LagKvScore(step.Pool, step.PageTable, c, (float)Options.ValueWeight, scores);
        ops.LagKvSelect(scores, step.Pool.KvHeads, c, kept);
        ops.LagKvCompact(step.Pool, step.PageTable, c, kept, step.Scratch.Compaction(step.Pool.DType, ILagKvOps.LagKvCompactScratchElements(step.Pool, c)));
        layer.Shrink(c.LengthAfter);
        layerState.Apply(c);
        state.Compressions[step.Layer]++;
        Timer?.Stop(b, step.IsPrefill, started);
    }

    /// <summary>kvpress semantics: compress once, after the context prefill; the question and generated tokens stay.</summary>
    private void Press(KvStepContext step, ILagKvOps ops, LagKvState state)
    {
        if (!step.IsPrefill || !step.IsLastPrefillChunk || state.Compressions[step.Layer] > 0) return;
        LayerKv layer = step.Sequence.Layers[step.Layer];
        int tokens = layer.PhysicalLength;
        if (LagKvSchedule.PressScoring(Options, tokens) is not { } scoring) return;
        LagKvCompression selection = LagKvSchedule.PressSelection(Options, tokens);

        IBackend b = step.Backend;
        long started = Timer?.Start(b) ?? 0;
        int heads = step.Pool.KvHeads;
        DeviceArray scores = step.Scratch.Scores((long)heads * scoring.Partitions * scoring.LagSize);
        DeviceArray pressScores = step.Scratch.PressScores((long)heads * tokens);
        DeviceArray kept = step.Scratch.Kept((long)heads * selection.Keep);
        ops.LagKvScore(step.Pool, step.PageTable, scoring, (float)Options.ValueWeight, scores);
        ops.LagKvPressScores(scores, heads, scoring, pressScores);
        ops.LagKvSelect(pressScores, heads, selection, kept);
        ops.LagKvCompact(step.Pool, step.PageTable, selection, kept, step.Scratch.Compaction(step.Pool.DType, ILagKvOps.LagKvCompactScratchElements(step.Pool, selection)));
        layer.Shrink(selection.LengthAfter);
        state.Compressions[step.Layer]++;
        Timer?.Stop(b, step.IsPrefill, started);
    }

    /// <summary>LagKV's memory of one sequence: the grid partitions compressed per layer.</summary>
    private sealed class LagKvState(int layers) : KvPolicyState(layers)
    {
        public LagKvLayerState[] Layers { get; } = Enumerable.Range(0, layers).Select(_ => new LagKvLayerState()).ToArray();
        public override int CompressedPartitions(int layer) => Layers[layer].CompressedPartitions;
    }
}
