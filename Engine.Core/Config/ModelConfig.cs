namespace Engine.Core.Config;

/// <summary>The architectures the engine runs.</summary>
public enum ModelArchitecture
{
    Llama,
    Qwen2,
}

/// <summary>RoPE frequency scaling as Hugging Face's <c>rope_scaling</c> / <c>rope_parameters</c> describe it.</summary>
public enum RopeScalingType
{
    None,
    /// <summary>Positions divided by <see cref="RopeScaling.Factor"/>.</summary>
    Linear,
    /// <summary>Llama 3.1's piecewise frequency scaling (low/high frequency factors).</summary>
    Llama3,
}

public sealed record RopeScaling(
    RopeScalingType Type,
    double Factor = 1.0,
    double LowFreqFactor = 1.0,
    double HighFreqFactor = 4.0,
    int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// A model's shape and numerics, read from <c>config.json</c>. Every field the forward pass needs is
/// here, already resolved (head_dim derived when absent, biases implied by the architecture).
/// </summary>
public sealed record ModelConfig
{
    public required ModelArchitecture Architecture { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumLayers { get; init; }
    /// <summary>Query heads.</summary>
    public required int NumHeads { get; init; }
    /// <summary>Key/value heads (GQA: NumHeads is a multiple of it).</summary>
    public required int NumKvHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int VocabSize { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    public required double RmsNormEps { get; init; }
    public required double RopeTheta { get; init; }
    public RopeScaling RopeScaling { get; init; } = new(RopeScalingType.None);
    /// <summary>
    /// Per-frequency RoPE divisors [headDim / 2] (a GGUF's <c>rope_freqs.weight</c>: llama.cpp's converter
    /// stores Llama 3.1's scaling this way); applied after <see cref="RopeScaling"/>. Null: none.
    /// </summary>
    public IReadOnlyList<float>? RopeFrequencyFactors { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>q/k/v projections carry a bias (always for Qwen2; Llama's <c>attention_bias</c>).</summary>
    public bool QkvBias { get; init; }
    /// <summary>o projection carries a bias (Llama's <c>attention_bias</c>; never for Qwen2).</summary>
    public bool OutputProjBias { get; init; }
    /// <summary>gate/up/down projections carry a bias (Llama's <c>mlp_bias</c>).</summary>
    public bool MlpBias { get; init; }
    /// <summary>The checkpoint's declared dtype (<c>torch_dtype</c> / <c>dtype</c>).</summary>
    public DType DType { get; init; } = DType.BF16;
    public int? BosTokenId { get; init; }
    /// <summary>EOS ids declared by config.json (generation_config.json may add more).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];

    public int QueryDim => NumHeads * HeadDim;
    public int KvDim => NumKvHeads * HeadDim;
}
