namespace Engine.Core.Config;

/// <summary>
/// A model's default generation settings from <c>generation_config.json</c>, with the EOS set united
/// with config.json's. A null field was not given (the caller's own default applies). Hugging Face
/// semantics: <see cref="DoSample"/> false or absent means greedy decoding whatever the temperature.
/// </summary>
public sealed record GenerationDefaults
{
    public bool? DoSample { get; init; }
    public double? Temperature { get; init; }
    public int? TopK { get; init; }
    public double? TopP { get; init; }
    public double? MinP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? MaxNewTokens { get; init; }
    /// <summary>Prompt plus generated tokens (Hugging Face's <c>max_length</c>).</summary>
    public int? MaxLength { get; init; }
    public int? BosTokenId { get; init; }
    /// <summary>Every token id that ends generation: generation_config.json's, then config.json's not already listed.</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    /// <summary>Greedy unless sampling is switched on explicitly (transformers' GenerationConfig defaults do_sample to false).</summary>
    public bool IsGreedy => DoSample != true;

    /// <summary>No generation_config.json: only config.json's BOS and EOS.</summary>
    public static GenerationDefaults From(ModelConfig model) =>
        new() { BosTokenId = model.BosTokenId, EosTokenIds = model.EosTokenIds };
}
