namespace Engine.Models;

/// <summary>Which part of a request a forward step is.</summary>
/// <param name="IsPrefill">A prompt chunk (false: a decode step).</param>
/// <param name="IsLastPrefillChunk">The chunk that ends the prompt.</param>
/// <param name="AllLogits">Logits for every row of the step, not only the last.</param>
public readonly record struct ForwardStep(bool IsPrefill, bool IsLastPrefillChunk, bool AllLogits = false)
{
    public static ForwardStep Decode => new(false, false);
}
