using Engine.Models.Kv;

namespace Engine.Models.Generation;

/// <summary>Per-request statistics, filled in as the request runs and final once it ended.</summary>
public sealed class GenerationStats
{
    public int PromptTokens { get; internal set; }
    /// <summary>Prompt tokens actually prefilled (fewer than <see cref="PromptTokens"/> when the request ended during prefill).</summary>
    public int PrefillTokens { get; internal set; }
    public int GeneratedTokens { get; internal set; }
    /// <summary>Time the engine took to load the model (the same for every request of an engine).</summary>
    public double LoadMs { get; internal set; }
    /// <summary>Time the request waited for admission (KV pages, a free batch slot).</summary>
    public double QueueMs { get; internal set; }
    /// <summary>From admission to the first token's logits (all prefill chunks, sharing steps with other sequences).</summary>
    public double PrefillMs { get; internal set; }
    /// <summary>From the first token to the end.</summary>
    public double DecodeMs { get; internal set; }
    /// <summary>Time to first token: from the request's submission (queueing included) to the first token being chosen.</summary>
    public double TimeToFirstTokenMs { get; internal set; }
    /// <summary>Prefilled tokens per second of prefill time (only what was done counts).</summary>
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
    /// <summary>What the request's KV policy did, per layer (compressions, partitions, lengths); all layers "skipped" without a policy.</summary>
    public IReadOnlyList<KvLayerStats> KvPolicyLayers { get; internal set; } = [];
    /// <summary>Bytes the backend moved to the device and to the host while the request ran (requests sharing those steps included).</summary>
    public long BytesToDevice { get; internal set; }
    public long BytesToHost { get; internal set; }
}
