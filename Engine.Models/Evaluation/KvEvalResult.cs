namespace Engine.Models.Evaluation;

/// <summary>
/// One row of `engine eval kv`: a policy at a nominal ratio against the full cache over the same
/// teacher-forced text.
/// </summary>
/// <param name="Policy">Policy name (lagkv, streaming, snapkv, h2o, full).</param>
/// <param name="Ratio">Nominal ratio label (e.g. 4x; 1x for the full cache).</param>
/// <param name="Tokens">Tokens of text evaluated.</param>
/// <param name="MeanKl">Mean over positions of KL(full || compressed) of the next-token distributions, in nats.</param>
/// <param name="Top1Agreement">Fraction of positions whose most likely next token is the same.</param>
/// <param name="PerplexityFull">Perplexity of the text under the full cache.</param>
/// <param name="PerplexityCompressed">Perplexity under the compressed cache.</param>
/// <param name="FinalKvSlots">Slots held per layer at the end (mean over layers).</param>
public sealed record KvEvalResult(
    string Policy,
    string Ratio,
    int Tokens,
    double MeanKl,
    double Top1Agreement,
    double PerplexityFull,
    double PerplexityCompressed,
    double FinalKvSlots)
{
    /// <summary>Compressed perplexity over full perplexity (1: no loss).</summary>
    public double PerplexityRatio => PerplexityCompressed / PerplexityFull;

    /// <summary>Achieved compression: tokens seen over slots held at the end.</summary>
    public double AchievedRatio => FinalKvSlots == 0 ? 1 : Tokens / FinalKvSlots;
}
