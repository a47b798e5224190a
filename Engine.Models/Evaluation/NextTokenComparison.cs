namespace Engine.Models.Evaluation;

/// <summary>
/// Accumulates, position by position, how a compressed cache's next-token distribution differs from
/// the full cache's (or a quantized model's from its reference's): KL(full || compressed), top-1 agreement,
/// both negative log-likelihoods of the true next token and the change in its probability. All in
/// float64 from the F32 logits; each position's KL is kept for percentiles.
/// </summary>
public sealed class NextTokenComparison
{
    private double _kl, _nllFull, _nllCompressed, _deltaP, _deltaP2;
    private long _positions, _agreements, _targets;
    private readonly List<double> _kls = [];

    public long Positions => _positions;
    public double MeanKl => _positions == 0 ? 0 : _kl / _positions;
    public double Top1Agreement => _positions == 0 ? 1 : (double)_agreements / _positions;
    public double PerplexityFull => Math.Exp(_targets == 0 ? 0 : _nllFull / _targets);
    public double PerplexityCompressed => Math.Exp(_targets == 0 ? 0 : _nllCompressed / _targets);
    public double MaxKl => _kls.Count == 0 ? 0 : _kls.Max();
    /// <summary>Mean over targets of p_compressed(true token) - p_full(true token) (llama-perplexity's "Mean Δp").</summary>
    public double MeanDeltaP => _targets == 0 ? 0 : _deltaP / _targets;
    /// <summary>Root mean square of that change ("RMS Δp").</summary>
    public double RmsDeltaP => _targets == 0 ? 0 : Math.Sqrt(_deltaP2 / _targets);

    /// <summary>The <paramref name="percent"/> percentile of the per-position KL (linear between the two nearest ranks).</summary>
    public double KlPercentile(double percent)
    {
        if (_kls.Count == 0) return 0;
        var sorted = _kls.Order().ToArray();
        double rank = percent / 100 * (sorted.Length - 1);
        int below = (int)Math.Floor(rank), above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (rank - below) * (sorted[above] - sorted[below]);
    }

    /// <summary>One position: both logit rows over the vocabulary and the true next token (null at the text's end).</summary>
    public void Add(ReadOnlySpan<float> full, ReadOnlySpan<float> compressed, int? target)
    {
        double[] logFull = LogSoftmax(full), logCompressed = LogSoftmax(compressed);
        double kl = 0;
        for (int i = 0; i < logFull.Length; i++)
        {
            double p = Math.Exp(logFull[i]);
            if (p > 0) kl += p * (logFull[i] - logCompressed[i]);
        }
        kl = Math.Max(0, kl); // rounding can leave a tiny negative where the rows are equal
        _kl += kl;
        _kls.Add(kl);
        _positions++;
        if (Argmax(full) == Argmax(compressed)) _agreements++;
        if (target is int t)
        {
            _nllFull -= logFull[t];
            _nllCompressed -= logCompressed[t];
            double deltaP = Math.Exp(logCompressed[t]) - Math.Exp(logFull[t]);
            _deltaP += deltaP;
            _deltaP2 += deltaP * deltaP;
            _targets++;
        }
    }

    private static double[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float x in logits) max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        double logSum = max + Math.Log(sum);
        var result = new double[logits.Length];
        for (int i = 0; i < result.Length; i++) result[i] = logits[i] - logSum;
        return result;
    }

    /// <summary>Index of the largest logit; ties go to the lowest index.</summary>
    private static int Argmax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
