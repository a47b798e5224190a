namespace Engine.Models.Kv;

/// <summary>
/// H2O (Zhang et al., 2023), heavy-hitter oracle: every step (prefill chunks and decode tokens alike)
/// adds the attention each cached key received from the step's queries (column sums over the rows
/// and the GQA group) to that key's running total. A layer above its budget keeps the most recent
/// half of the budget plus the heavy hitters (largest totals) among the older slots for the other
/// half; totals follow their keys through the compaction.
/// </summary>
public sealed class H2OPolicy(KvBudget budget) : IKvCachePolicy
{
    public KvBudget Budget { get; } = budget;
    public string Name => "h2o";
    public bool Compresses(int layer) => Budget.Compresses(layer);
    public KvPolicyState CreateState(int layers) => new H2OState(layers);

    public void AfterAttention(KvStepContext step)
    {
        if (!Budget.Compresses(step.Layer)) return;
        int heads = step.Pool.KvHeads;
        List<float>[] totals = step.State<H2OState>().Totals(step.Layer, heads);
        LayerKv layer = step.Sequence.Layers[step.Layer];
        int length = layer.PhysicalLength;
        float[] sums = AttentionScoreReader.Read(step, 0);
        for (int h = 0; h < heads; h++)
        {
            List<float> total = totals[h];
            while (total.Count < length) total.Add(0f);
            for (int j = 0; j < length; j++) total[j] += sums[h * length + j];
        }

        int keep = Budget.SlotsAfter(KvBudget.TokensAfter(step));
        if (length <= keep) return;
        var kept = new int[heads * keep];
        for (int h = 0; h < heads; h++)
        {
            int[] slots = KeptSlots(totals[h].ToArray(), keep);
            slots.CopyTo(kept, h * keep);
            totals[h] = slots.Select(s => totals[h][s]).ToList();
        }
        KeptSlotCompactor.Compact(step, kept, keep);
    }

    /// <summary>One head's kept slots: heavy hitters among the older slots (half the budget), then the recent half.</summary>
    public static int[] KeptSlots(ReadOnlySpan<float> totals, int keep)
    {
        int heavy = keep / 2, recent = keep - heavy, older = totals.Length - recent;
        int[] chosen = TopScores.Select(totals[..older], heavy);
        var slots = new int[keep];
        chosen.CopyTo(slots, 0);
        for (int i = 0; i < recent; i++) slots[heavy + i] = older + i;
        return slots;
    }

    /// <summary>H2O's memory of one sequence: the attention each kept slot has received, per layer and KV head.</summary>
    private sealed class H2OState(int layers) : KvPolicyState(layers)
    {
        private readonly List<float>[]?[] _totals = new List<float>[]?[layers];

        public List<float>[] Totals(int layer, int heads) =>
            _totals[layer] ??= Enumerable.Range(0, heads).Select(_ => new List<float>()).ToArray();
    }
}
