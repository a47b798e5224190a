namespace Engine.Core.Sampling;

/// <summary>The log-softmax of raw logits (before any sampling processor), top K first.</summary>
public static class TopLogprobs
{
    public const int MaxK = 20;

    public static TokenLogprob[] Compute(ReadOnlySpan<float> logits, int k)
    {
        if (k < 1 || k > MaxK) throw new EngineException($"logprobs must be between 1 and {MaxK}, got {k}");
        k = Math.Min(k, logits.Length);
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        double logZ = max + Math.Log(sum);

        // Insertion into a small sorted list: k <= 20, so this beats sorting the vocabulary.
        var best = new List<int>(k + 1);
        for (int i = 0; i < logits.Length; i++)
        {
            if (best.Count == k && logits[i] <= logits[best[^1]]) continue;
            int at = best.Count;
            while (at > 0 && logits[i] > logits[best[at - 1]]) at--;
            best.Insert(at, i);
            if (best.Count > k) best.RemoveAt(k);
        }
        var result = new TokenLogprob[best.Count];
        for (int r = 0; r < best.Count; r++) result[r] = new TokenLogprob(best[r], logits[best[r]] - logZ);
        return result;
    }
}
