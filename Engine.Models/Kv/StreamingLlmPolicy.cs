namespace Engine.Models.Kv;

/// <summary>
/// StreamingLLM (Xiao et al., 2023): the first <see cref="SinkTokens"/> tokens (attention sinks) and
/// the most recent ones, no scoring. Evicts whenever a layer holds more than the budget LagKV would
/// hold after the same tokens, down to exactly that budget.
/// </summary>
public sealed class StreamingLlmPolicy(KvBudget budget, int sinkTokens = StreamingLlmPolicy.DefaultSinkTokens) : IKvCachePolicy
{
    public const int DefaultSinkTokens = 4;

    public KvBudget Budget { get; } = budget;
    public int SinkTokens { get; } = sinkTokens;
    public string Name => "streaming";
    public bool Compresses(int layer) => Budget.Compresses(layer);
    public KvPolicyState CreateState(int layers) => new(layers);

    public void AfterAttention(KvStepContext step)
    {
        if (!Budget.Compresses(step.Layer)) return;
        LayerKv layer = step.Sequence.Layers[step.Layer];
        int length = layer.PhysicalLength, keep = Budget.SlotsAfter(KvBudget.TokensAfter(step));
        if (length <= keep) return;
        int[] slots = KeptSlots(length, keep, SinkTokens);
        int heads = step.Pool.KvHeads;
        var kept = new int[heads * keep];
        for (int h = 0; h < heads; h++) slots.CopyTo(kept, h * keep);
        KeptSlotCompactor.Compact(step, kept, keep);
    }

    /// <summary>The sink [0, min(sink, keep)) and the most recent slots up to <paramref name="keep"/> in all.</summary>
    public static int[] KeptSlots(int length, int keep, int sink)
    {
        int first = Math.Min(sink, keep);
        var slots = new int[keep];
        for (int i = 0; i < first; i++) slots[i] = i;
        for (int i = first; i < keep; i++) slots[i] = length - keep + i;
        return slots;
    }
}
