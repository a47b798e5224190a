using Engine.Models.Kv;

namespace Engine.Tests.KvBaselines;

/// <summary>The three baselines, as the reference knows them.</summary>
public enum BaselineKind { StreamingLlm, SnapKv, H2O }

/// <summary>
/// A float64 host model of one layer under a baseline policy: which original token each slot of each
/// KV head holds, recomputing attention weights from the host K and Q in double precision. Written
/// from the papers' descriptions, independently of the device code.
/// </summary>
public sealed class BaselineHostReference(BaselineKind kind, KvBudget budget, float[] keys, float[] queries, int tokens)
{
    private const int KvHeads = BaselineHarness.KvHeads, Heads = BaselineHarness.Heads, Dim = BaselineHarness.HeadDim;
    private readonly List<int>[] _held = Enumerable.Range(0, KvHeads).Select(_ => new List<int>()).ToArray();
    private readonly List<double>[] _totals = Enumerable.Range(0, KvHeads).Select(_ => new List<double>()).ToArray();
    private int _seen;

    public IReadOnlyList<int> Held(int head) => _held[head];

    /// <summary>Applies one step of <paramref name="n"/> new tokens.</summary>
    public void Step(int n)
    {
        for (int h = 0; h < KvHeads; h++)
            for (int t = 0; t < n; t++) _held[h].Add(_seen + t);
        int length = _held[0].Count, keep = budget.SlotsAfter(_seen + n);
        if (kind == BaselineKind.H2O)
            for (int h = 0; h < KvHeads; h++)
            {
                double[] sums = ColumnSums(h, n, 0);
                while (_totals[h].Count < length) _totals[h].Add(0);
                for (int j = 0; j < length; j++) _totals[h][j] += sums[j];
            }
        if (length > keep)
            for (int h = 0; h < KvHeads; h++)
            {
                int[] slots = kind switch
                {
                    BaselineKind.StreamingLlm => Enumerable.Range(0, 4).Concat(Enumerable.Range(length - (keep - 4), keep - 4)).ToArray(),
                    BaselineKind.SnapKv => SnapKvSlots(h, n, keep),
                    _ => H2OSlots(h, keep),
                };
                _held[h] = slots.Select(s => _held[h][s]).ToList();
                if (kind == BaselineKind.H2O) _totals[h] = slots.Select(s => _totals[h][s]).ToList();
            }
        _seen += n;
    }

    private int[] SnapKvSlots(int head, int n, int keep)
    {
        int length = _held[head].Count, window = Math.Min(32, Math.Min(n, keep)), prefix = length - window;
        double[] sums = ColumnSums(head, n, n - window);
        var pooled = new double[prefix];
        for (int j = 0; j < prefix; j++)
            for (int i = j - 2; i <= j + 2; i++)
                if (i >= 0 && i < prefix) pooled[j] += sums[i] / 5;
        return Best(pooled, keep - window).Concat(Enumerable.Range(prefix, window)).ToArray();
    }

    private int[] H2OSlots(int head, int keep)
    {
        int length = _held[head].Count, heavy = keep / 2, recent = keep - heavy;
        return Best(_totals[head].Take(length - recent).ToArray(), heavy).Concat(Enumerable.Range(length - recent, recent)).ToArray();
    }

    /// <summary>Indices of the count largest values, ascending; ties to the lower index.</summary>
    private static IEnumerable<int> Best(double[] values, int count) =>
        Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).ThenBy(i => i).Take(count).Order();

    /// <summary>Per slot: softmax weights from rows [first, n) of the step and the group's heads, summed.</summary>
    private double[] ColumnSums(int kvHead, int n, int first)
    {
        int length = _held[kvHead].Count, group = Heads / KvHeads;
        var sums = new double[length];
        double scale = 1 / Math.Sqrt(Dim);
        for (int r = first; r < n; r++)
            for (int g = 0; g < group; g++)
            {
                int head = kvHead * group + g, visible = length - n + r + 1;
                var scores = new double[visible];
                for (int j = 0; j < visible; j++)
                {
                    int token = _held[kvHead][j];
                    double dot = 0;
                    for (int d = 0; d < Dim; d++)
                        dot += (double)queries[((_seen + r) * Heads + head) * Dim + d] * keys[(kvHead * tokens + token) * Dim + d];
                    scores[j] = dot * scale;
                }
                double max = scores.Max(), total = scores.Sum(s => Math.Exp(s - max));
                for (int j = 0; j < visible; j++) sums[j] += Math.Exp(scores[j] - max) / total;
            }
        return sums;
    }
}
