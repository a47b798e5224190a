using Engine.Core.Kv.LagKv;

namespace Engine.Tests.LagKv;

/// <summary>
/// LagKV's scoring and selection in float64 on the host: the reference the device kernels are
/// checked against (docs/lagkv.md, "Scoring one partition"). Matrices are row-major [tokens, dim].
/// </summary>
public static class LagKvHostReference
{
    /// <summary>
    /// q_Z for one partition: per-channel min/max over the reference partition, min-max
    /// normalisation of each token, unbiased std over channels (a channel with hi == lo contributes
    /// 0), softmax over the partition's tokens.
    /// </summary>
    public static double[] TokenScores(ReadOnlySpan<float> partition, ReadOnlySpan<float> reference, int lag, int dim)
    {
        var lo = new double[dim];
        var hi = new double[dim];
        Array.Fill(lo, double.PositiveInfinity);
        Array.Fill(hi, double.NegativeInfinity);
        for (int t = 0; t < lag; t++)
            for (int d = 0; d < dim; d++)
            {
                double v = reference[t * dim + d];
                lo[d] = Math.Min(lo[d], v);
                hi[d] = Math.Max(hi[d], v);
            }

        var std = new double[lag];
        var normalised = new double[dim];
        for (int t = 0; t < lag; t++)
        {
            double mean = 0;
            for (int d = 0; d < dim; d++)
            {
                double range = hi[d] - lo[d];
                normalised[d] = range == 0 ? 0 : (partition[t * dim + d] - lo[d]) / range;
                mean += normalised[d];
            }
            mean /= dim;
            double squares = 0;
            for (int d = 0; d < dim; d++) squares += (normalised[d] - mean) * (normalised[d] - mean);
            std[t] = Math.Sqrt(squares / (dim - 1));
        }

        double max = std.Max();
        double sum = 0;
        var softmax = new double[lag];
        for (int t = 0; t < lag; t++) { softmax[t] = Math.Exp(std[t] - max); sum += softmax[t]; }
        for (int t = 0; t < lag; t++) softmax[t] /= sum;
        return softmax;
    }

    /// <summary>score = q_K + w_V * q_V for one partition of one KV head.</summary>
    public static double[] PartitionScores(
        ReadOnlySpan<float> keys, ReadOnlySpan<float> referenceKeys,
        ReadOnlySpan<float> values, ReadOnlySpan<float> referenceValues,
        int lag, int dim, double valueWeight)
    {
        double[] qk = TokenScores(keys, referenceKeys, lag, dim);
        double[] qv = TokenScores(values, referenceValues, lag, dim);
        for (int t = 0; t < lag; t++) qk[t] += valueWeight * qv[t];
        return qk;
    }

    /// <summary>The <paramref name="keep"/> highest scores' indices in ascending order; ties go to the lower index.</summary>
    public static int[] TopKAscending(ReadOnlySpan<double> scores, int keep)
    {
        int[] order = Enumerable.Range(0, scores.Length).ToArray();
        double[] copy = scores.ToArray();
        Array.Sort(order, (a, b) => copy[a] != copy[b] ? copy[b].CompareTo(copy[a]) : a.CompareTo(b));
        int[] kept = order[..keep];
        Array.Sort(kept);
        return kept;
    }

    /// <summary>
    /// The smallest gap between the k-th and (k+1)-th best score of a partition: when it is tiny,
    /// fp32 kernels may legitimately keep a different token.
    /// </summary>
    public static double SelectionMargin(ReadOnlySpan<double> scores, int keep)
    {
        double[] sorted = scores.ToArray();
        Array.Sort(sorted, (a, b) => b.CompareTo(a));
        return keep < sorted.Length ? sorted[keep - 1] - sorted[keep] : double.PositiveInfinity;
    }

    /// <summary>
    /// Press mode (kvpress's LagKVPress) on the first <paramref name="context"/> tokens of one head of
    /// [kvHeads, tokens, dim] data: in-partition ascending ranks / L for the scored partitions, 1 for
    /// the sink and the tail, then the floor(T * r) best over the whole context (ties to the lower
    /// position), ascending.
    /// </summary>
    public static int[] PressKept(float[] keys, float[] values, int head, int tokens, int context, int dim, LagKvOptions options)
    {
        int s = options.SinkSize, lag = options.LagSize;
        int partitions = (context - s) / lag - 1;
        var score = new double[context];
        Array.Fill(score, 1.0);
        float[] Rows(float[] data, int first) => data.AsSpan(((head * tokens) + first) * dim, lag * dim).ToArray();
        for (int p = 0; p < partitions; p++)
        {
            int first = s + p * lag;
            double[] q = PartitionScores(Rows(keys, first), Rows(keys, first + lag), Rows(values, first), Rows(values, first + lag), lag, dim, options.ValueWeight);
            int[] descending = Enumerable.Range(0, lag).OrderByDescending(t => q[t]).ThenBy(t => t).ToArray();
            for (int rank = 0; rank < lag; rank++) score[first + descending[rank]] = (double)(lag - 1 - rank) / lag;
        }
        return TopKAscending(score, LagKvSchedule.PressKeepCount(options, context));
    }
}
