namespace Engine.Models.Evaluation;

/// <summary>
/// `engine eval quant`: a quantized model against its reference over the same text, in the terms of
/// llama.cpp's <c>llama-perplexity --kl-divergence</c>. KL is KL(reference || quantized) of the next-token
/// distributions in nats, over the scored positions (the second half of each chunk).
/// </summary>
/// <param name="Tokens">Tokens of text evaluated (whole chunks).</param>
/// <param name="Chunks">Chunks of <paramref name="ChunkSize"/> tokens, each evaluated from an empty cache.</param>
/// <param name="Positions">Positions scored.</param>
/// <param name="Top1Agreement">Fraction of scored positions with the same most likely next token ("Same top p").</param>
/// <param name="MeanDeltaP">Mean change of the true token's probability, quantized minus reference.</param>
/// <param name="RmsDeltaP">Root mean square of that change.</param>
public sealed record QuantEvalResult(
    int Tokens,
    int ChunkSize,
    int Chunks,
    long Positions,
    double MeanKl,
    double MedianKl,
    double Kl99,
    double MaxKl,
    double Top1Agreement,
    double PerplexityReference,
    double PerplexityQuantized,
    double MeanDeltaP,
    double RmsDeltaP)
{
    /// <summary>Quantized perplexity over the reference's (1: no loss).</summary>
    public double PerplexityRatio => PerplexityQuantized / PerplexityReference;
}
