namespace Engine.Models.Kv;

/// <summary>
/// SnapKV (Li et al., 2024): the prefix keys are ranked by the softmax attention the last w queries
/// of the step give them (summed over the GQA group, proportional to the group mean), smoothed by a
/// 1-D average pool of kernel 5 (zero padding counted, as torch's avg_pool1d); the top (budget - w)
/// prefix slots are kept plus the w-token window. SnapKV compresses at the end of prefill; to compare
/// at equal budgets step by step, this one compresses every step that leaves a layer above the budget
/// LagKV would hold (w shrinks to the step's tokens in decode).
/// </summary>
public sealed class SnapKvPolicy(KvBudget budget, int window = SnapKvPolicy.DefaultWindow, int poolKernel = SnapKvPolicy.DefaultPoolKernel)
    : IKvCachePolicy
{
    public const int DefaultWindow = 32, DefaultPoolKernel = 5;

    public KvBudget Budget { get; } = budget;
    public int Window { get; } = window;
    public int PoolKernel { get; } = poolKernel;
    public string Name => "snapkv";
    public bool Compresses(int layer) => Budget.Compresses(layer);
    public KvPolicyState CreateState(int layers) => new(layers);

    public void AfterAttention(KvStepContext step)
    {
        if (!Budget.Compresses(step.Layer)) return;
        LayerKv layer = step.Sequence.Layers[step.Layer];
        int length = layer.PhysicalLength, keep = Budget.SlotsAfter(KvBudget.TokensAfter(step));
        if (length <= keep) return;
        int window = Math.Min(Window, Math.Min(step.StepTokens, keep));
        float[] sums = AttentionScoreReader.Read(step, step.StepTokens - window);
        int heads = step.Pool.KvHeads;
        var kept = new int[heads * keep];
        for (int h = 0; h < heads; h++)
            KeptSlots(sums.AsSpan(h * length, length), keep, window, PoolKernel).CopyTo(kept, h * keep);
        KeptSlotCompactor.Compact(step, kept, keep);
    }

    /// <summary>One head's kept slots from its column sums over all <paramref name="sums"/>.Length slots.</summary>
    public static int[] KeptSlots(ReadOnlySpan<float> sums, int keep, int window, int poolKernel)
    {
        int length = sums.Length, prefix = length - window, half = poolKernel / 2;
        var pooled = new float[prefix];
        for (int j = 0; j < prefix; j++)
        {
            float total = 0;
            for (int i = Math.Max(0, j - half); i <= Math.Min(prefix - 1, j + half); i++) total += sums[i];
            pooled[j] = total / poolKernel;
        }
        int[] chosen = TopScores.Select(pooled, keep - window);
        var slots = new int[keep];
        chosen.CopyTo(slots, 0);
        for (int i = 0; i < window; i++) slots[keep - window + i] = prefix + i;
        return slots;
    }
}
