using Engine.Core;
using Engine.Core.Sampling;
using Engine.Models.Kv;

namespace Engine.Models.Generation;

/// <summary>What one request asks for, besides its prompt.</summary>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate.</summary>
    public int MaxTokens { get; init; } = 256;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Generation ends when the text contains one of these; the stop string itself is not returned.</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Keep going past end-of-sequence tokens.</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>EOS ids (config.json's and generation_config.json's); the engine's model defaults when null.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; init; }
    public PrefillSchedule Prefill { get; init; } = PrefillSchedule.Default;
    /// <summary>Top log-probabilities to report per token (0: none, at most 20).</summary>
    public int Logprobs { get; init; }
    /// <summary>Attach each layer's cache lengths to every streamed token (<see cref="GeneratedToken.Kv"/>).</summary>
    public bool ReportKvLengths { get; init; }
    /// <summary>A KV-cache policy (LagKV, ...) that sees every layer after its attention; null: keep the full cache.</summary>
    public IKvCachePolicy? KvPolicy { get; init; }

    public void Validate()
    {
        if (MaxTokens < 1) throw new EngineException($"max tokens must be >= 1, got {MaxTokens}");
        if (Logprobs < 0 || Logprobs > TopLogprobs.MaxK) throw new EngineException($"logprobs must be between 0 and {TopLogprobs.MaxK}, got {Logprobs}");
        Sampling.Validate();
    }
}
