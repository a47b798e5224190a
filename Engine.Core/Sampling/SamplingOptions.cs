namespace Engine.Core.Sampling;

/// <summary>
/// How the next token is chosen from the logits. Temperature 0 is greedy. Values mean what Hugging
/// Face's generate() means by them; 0 (top-k, min-p), 1 (top-p, repetition penalty) switch a step off.
/// </summary>
public sealed record SamplingOptions
{
    public double Temperature { get; init; } = 1.0;
    public int TopK { get; init; }
    public double TopP { get; init; } = 1.0;
    public double MinP { get; init; }
    public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>OpenAI's frequency penalty: each generated token's logit drops by this times its count so far (-2..2; 0 off).</summary>
    public double FrequencyPenalty { get; init; }
    /// <summary>OpenAI's presence penalty: each token generated at least once drops by this (-2..2; 0 off).</summary>
    public double PresencePenalty { get; init; }
    /// <summary>Seed of the random generator; null: a fresh seed per request.</summary>
    public int? Seed { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    public bool IsGreedy => Temperature == 0;

    /// <summary>Throws an <see cref="EngineException"/> naming the first out-of-range value.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new EngineException($"temperature must be >= 0, got {Temperature}");
        if (TopK < 0) throw new EngineException($"top-k must be >= 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new EngineException($"top-p must be in (0, 1], got {TopP}");
        if (!(MinP >= 0 && MinP <= 1)) throw new EngineException($"min-p must be in [0, 1], got {MinP}");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2)) throw new EngineException($"frequency penalty must be in [-2, 2], got {FrequencyPenalty}");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2)) throw new EngineException($"presence penalty must be in [-2, 2], got {PresencePenalty}");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty)) throw new EngineException($"repetition penalty must be > 0, got {RepetitionPenalty}");
    }
}
