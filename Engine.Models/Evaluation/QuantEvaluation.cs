using Engine.Core;
using Engine.Kernels;
using Engine.Models.Kv;

namespace Engine.Models.Evaluation;

/// <summary>
/// Compares a quantized model with its reference as <c>llama-perplexity --kl-divergence</c> does: the text is
/// cut into chunks of <c>chunkSize</c> tokens, each chunk runs through both models from an empty cache (its
/// first token replaced by BOS when the tokenizer adds one), and the positions of each chunk's second half
/// (which have at least half a chunk of context) are scored: KL(reference || quantized) of the next-token
/// distributions, top-1 agreement, and the perplexity of the true next tokens under each. The two models
/// run chunk by chunk in lockstep, so no logits are stored.
/// </summary>
public static class QuantEvaluation
{
    /// <param name="bos">The BOS id the tokenizer adds, or null when it adds none.</param>
    /// <param name="progress">Gets the chunks done after each chunk.</param>
    public static QuantEvalResult Run(LlamaModel reference, PagedKvCache referenceCache, LlamaModel quantized, PagedKvCache quantizedCache,
        IReadOnlyList<int> tokens, int chunkSize, int? bos, Action<int>? progress = null)
    {
        int vocab = reference.Config.VocabSize;
        if (quantized.Config.VocabSize != vocab)
            throw new EngineException($"the models' vocabularies differ ({vocab} and {quantized.Config.VocabSize} tokens): eval quant compares a model with a quantization of it");
        if (chunkSize < 4) throw new EngineException($"chunks of {chunkSize} tokens are too short to score (at least 4)");
        int chunks = tokens.Count / chunkSize;
        if (chunks == 0) throw new EngineException($"the text has {tokens.Count} tokens, less than one chunk of {chunkSize}; give a longer text or a smaller --ctx");

        var comparison = new NextTokenComparison();
        var step = new ForwardStep(IsPrefill: true, IsLastPrefillChunk: true, AllLogits: true);
        var referenceLogits = new float[chunkSize * vocab];
        var quantizedLogits = new float[chunkSize * vocab];
        for (int c = 0; c < chunks; c++)
        {
            int[] chunk = tokens.Skip(c * chunkSize).Take(chunkSize).ToArray();
            if (bos is int b) chunk[0] = b;
            Logits(reference, referenceCache, chunk, step, referenceLogits);
            Logits(quantized, quantizedCache, chunk, step, quantizedLogits);
            // llama-perplexity scores from the middle of the chunk to its second-to-last position (the last has no true next token).
            for (int r = chunkSize / 2; r < chunkSize - 1; r++)
                comparison.Add(referenceLogits.AsSpan(r * vocab, vocab), quantizedLogits.AsSpan(r * vocab, vocab), tokens[c * chunkSize + r + 1]);
            progress?.Invoke(c + 1);
        }
        return new QuantEvalResult(chunks * chunkSize, chunkSize, chunks, comparison.Positions, comparison.MeanKl, comparison.KlPercentile(50),
            comparison.KlPercentile(99), comparison.MaxKl, comparison.Top1Agreement, comparison.PerplexityFull, comparison.PerplexityCompressed,
            comparison.MeanDeltaP, comparison.RmsDeltaP);
    }

    private static void Logits(LlamaModel model, PagedKvCache cache, int[] chunk, ForwardStep step, float[] host)
    {
        using var sequence = cache.CreateSequence();
        var logits = model.Forward(sequence, chunk, step);
        model.Backend.Download<float>(logits, host);
    }
}
