namespace Engine.Models.Evaluation;

/// <summary>
/// Accumulates, position by position, how a compressed cache's next-token distribution differs from
/// the full cache's: KL(full || compressed), top-1 agreement, and both negative log-likelihoods of the
/// true next token. All in float64 from the F32 logits.
/// </summary>
public sealed class NextTokenComparison
{
    private double _kl, _nllFull, _nllCompressed;
    private long _positions, _agreements, _targets;

    public long Positions => _positions;
    public double MeanKl => _positions == 0 ? 0 : _kl / _positions;
    public double Top1Agreement => _positions == 0 ? 1 : (double)_agreements / _positions;
    public double PerplexityFull => Math.Exp(_targets == 0 ? 0 : _nllFull / _targets);
    public double PerplexityCompressed => Math.Exp(_targets == 0 ? 0 : _nllCompressed / _targets);

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
        _kl += Math.Max(0, kl); // rounding can leave a tiny negative where the rows are equal
        _positions++;
        if (Argmax(full) == Argmax(compressed)) _agreements++;
        if (target is int t)
        {
            _nllFull -= logFull[t];
            _nllCompressed -= logCompressed[t];
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
