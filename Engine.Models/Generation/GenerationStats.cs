namespace Engine.Models.Generation;

/// <summary>Per-request statistics, filled in as the request runs and final once it ended.</summary>
public sealed class GenerationStats
{
    public int PromptTokens { get; internal set; }
    public int GeneratedTokens { get; internal set; }
    /// <summary>Time the engine took to load the model (the same for every request of an engine).</summary>
    public double LoadMs { get; internal set; }
    /// <summary>From the request's start to the first token's logits (all prefill chunks).</summary>
    public double PrefillMs { get; internal set; }
    /// <summary>From the first token to the end.</summary>
    public double DecodeMs { get; internal set; }
    /// <summary>Time to first token: from the request's start to the first token being chosen.</summary>
    public double TimeToFirstTokenMs { get; internal set; }
    /// <summary>Prompt tokens prefilled: all of them, unless the request was cancelled (or the KV pool ran out) during the prefill.</summary>
    public int PrefillTokens { get; internal set; }
    /// <summary>Prefilled tokens per second of prefill: what was done, over the time it took.</summary>
    public double PrefillTokensPerSecond => PrefillMs > 0 ? PrefillTokens / (PrefillMs / 1000) : 0;
    /// <summary>Decode steps (tokens after the first) per second.</summary>
    public double DecodeTokensPerSecond => DecodeMs > 0 && GeneratedTokens > 1 ? (GeneratedTokens - 1) / (DecodeMs / 1000) : 0;
    /// <summary>Time spent copying logits to the host for sampling (zero for greedy without logprobs, which argmaxes on the device).</summary>
    public double LogitsCopyMs { get; internal set; }
    public int PageSize { get; internal set; }
    /// <summary>KV pages the sequence held at its end (all layers).</summary>
    public int KvPagesUsed { get; internal set; }
    public long KvBytes { get; internal set; }
    public IReadOnlyList<LayerKvLength> Layers { get; internal set; } = [];
    public long BytesToDevice { get; internal set; }
    public long BytesToHost { get; internal set; }
}
