using Engine.Core.Sampling;

namespace Engine.Models.Generation;

/// <summary>One generated token as it streams out.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Text">Text released with this token: complete characters, with any possible start of a stop string held back (so it may be empty, or carry text of earlier tokens).</param>
/// <param name="TopLogprobs">The top-K log-probabilities of the raw logits at this step when requested, else null.</param>
/// <param name="Kv">Each layer's logical and physical length after the step that chose this token, when
/// <see cref="GenerationOptions.ReportKvLengths"/> asks for it (watching a cache compress as a reply streams), else null.</param>
public sealed record GeneratedToken(int Id, string Text, IReadOnlyList<TokenLogprob>? TopLogprobs, IReadOnlyList<LayerKvLength>? Kv = null);
