using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;
using Engine.Models.Kv;

namespace Engine.Models.Evaluation;

/// <summary>
/// `engine eval kv`: feeds a text teacher-forced through two sequences in lockstep, one with the full
/// cache and one under a policy, in the chunks of LagKV's prefill schedule (S + 2L, then L), with
/// logits for every position, and compares the next-token distributions position by position. Each
/// chunk's attention sees the cache as the policy left it after the previous chunk (use, then
/// compress), exactly as in generation.
/// </summary>
public static class KvEvaluation
{
    /// <summary>
    /// Compares <paramref name="policy"/> at <paramref name="options"/>' budget against the full cache over
    /// <paramref name="tokens"/>; <paramref name="progress"/> gets the tokens done after each chunk.
    /// The cache must have room for two sequences of the text.
    /// </summary>
    public static KvEvalResult Run(LlamaModel model, PagedKvCache cache, IReadOnlyList<int> tokens, KvEvalPolicy policy,
        LagKvOptions options, Action<int>? progress = null)
    {
        if (tokens.Count < 2) throw new EngineException($"the text has {tokens.Count} token(s); eval kv needs at least 2");
        options.Validate(model.Config.NumLayers);
        int vocab = model.Config.VocabSize;
        IKvCachePolicy? kvPolicy = KvPolicyFactory.Create(KvEvalPolicyNames.Name(policy), options, model.Config.NumLayers);
        // The two sequences run side by side as one batch of two.
        using var full = cache.CreateSequence();
        using var compressed = cache.CreateSequence(0, kvPolicy);
        var comparison = new NextTokenComparison();
        int[] ids = tokens.ToArray();
        int done = 0;
        foreach (int size in LagKvPrefill.Auto(options).Chunks(ids.Length))
        {
            var chunk = ids.AsMemory(done, size);
            var step = new ForwardStep(IsPrefill: true, IsLastPrefillChunk: done + size == ids.Length, AllLogits: true);
            full.Append(size);
            compressed.Append(size);
            var logits = model.Forward([new BatchEntry(full, chunk, step), new BatchEntry(compressed, chunk, step)]);
            full.LogicalLength += size;
            compressed.LogicalLength += size;
            float[] fullLogits = Logits(model, logits.Of(0), size * vocab);
            float[] compressedLogits = Logits(model, logits.Of(1), size * vocab);
            for (int r = 0; r < size; r++)
            {
                int position = done + r;
                int? target = position + 1 < ids.Length ? ids[position + 1] : null;
                comparison.Add(fullLogits.AsSpan(r * vocab, vocab), compressedLogits.AsSpan(r * vocab, vocab), target);
            }
            done += size;
            progress?.Invoke(done);
        }
        double slots = compressed.Layers.Average(l => (double)l.PhysicalLength);
        string ratio = policy == KvEvalPolicy.Full ? "1x" : RatioLabel(options.Retention);
        return new KvEvalResult(KvEvalPolicyNames.Name(policy), ratio, ids.Length, comparison.MeanKl, comparison.Top1Agreement,
            comparison.PerplexityFull, comparison.PerplexityCompressed, slots);
    }

    /// <summary>`4x` for a retention of 1/4; `r=0.3` otherwise.</summary>
    public static string RatioLabel(double retention)
    {
        double factor = 1 / retention;
        return Math.Abs(factor - Math.Round(factor)) < 1e-9
            ? $"{Math.Round(factor):0}x"
            : $"r={retention.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}";
    }

    private static float[] Logits(LlamaModel model, DeviceArray logits, int count)
    {
        var host = new float[count];
        model.Backend.Download<float>(logits, host);
        return host;
    }
}
