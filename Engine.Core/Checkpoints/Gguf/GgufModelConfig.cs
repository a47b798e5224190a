using Engine.Core.Config;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// A <see cref="ModelConfig"/> from a GGUF file's metadata (<c>general.architecture</c> llama or qwen2 and
/// its <c>{arch}.*</c> keys), with what the metadata leaves out read off the tensor table: tied output
/// (no <c>output.weight</c>), attention and MLP biases.
/// </summary>
public static class GgufModelConfig
{
    private static readonly (string Name, ModelArchitecture Architecture)[] Supported =
    [
        ("llama", ModelArchitecture.Llama),
        ("qwen2", ModelArchitecture.Qwen2),
    ];

    public static ModelConfig Read(GgufFile file)
    {
        var m = file.Metadata;
        string arch = m.GetString("general.architecture") ?? throw new EngineException($"{file.Path}: metadata key general.architecture is missing");
        var architecture = Supported.FirstOrDefault(s => s.Name == arch).Architecture;
        if (!Supported.Any(s => s.Name == arch))
            throw new EngineException($"{file.Path}: architecture {arch} is not supported; supported: {string.Join(", ", Supported.Select(s => s.Name))}");

        int Positive(string key, long? fallback = null)
        {
            long value = m.GetInteger($"{arch}.{key}") ?? fallback ?? throw new EngineException($"{file.Path}: metadata key {arch}.{key} is missing");
            if (value <= 0 || value > int.MaxValue) throw new EngineException($"{file.Path}: metadata key {arch}.{key} is {value}, not a positive int32");
            return (int)value;
        }

        int hidden = Positive("embedding_length");
        int heads = Positive("attention.head_count");
        int kvHeads = Positive("attention.head_count_kv", heads);
        if (heads % kvHeads != 0)
            throw new EngineException($"{file.Path}: {arch}.attention.head_count {heads} is not a multiple of {arch}.attention.head_count_kv {kvHeads}");
        int headDim = Positive("attention.key_length", hidden % heads == 0 ? hidden / heads : null);
        int valueDim = Positive("attention.value_length", headDim);
        if (valueDim != headDim)
            throw new EngineException($"{file.Path}: {arch}.attention.value_length {valueDim} differs from key_length {headDim}; the engine needs them equal");
        if (headDim % 2 != 0) throw new EngineException($"{file.Path}: head dimension {headDim} must be even for rotary embeddings");
        int ropeDims = Positive("rope.dimension_count", headDim);
        if (ropeDims != headDim)
            throw new EngineException($"{file.Path}: {arch}.rope.dimension_count {ropeDims} rotates part of the {headDim}-dimensional heads; only full rotation is supported");

        long vocab = m.GetInteger($"{arch}.vocab_size")
                     ?? m.GetArray("tokenizer.ggml.tokens")?.Count
                     ?? (file.TryGetTensor(GgufTensorNames.Embedding, out var embedding) && embedding.Dims.Length == 2 ? embedding.Dims[1] : 0);
        double eps = m.GetFloat($"{arch}.attention.layer_norm_rms_epsilon") ?? throw new EngineException($"{file.Path}: metadata key {arch}.attention.layer_norm_rms_epsilon is missing");
        if (eps <= 0) throw new EngineException($"{file.Path}: {arch}.attention.layer_norm_rms_epsilon is {eps}, not positive");
        bool Has(string blockTensor) => file.TryGetTensor(GgufTensorNames.Block(0, blockTensor), out _);
        var bos = m.GetInteger("tokenizer.ggml.bos_token_id");
        var eos = new[] { "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id" }
            .Select(m.GetInteger).OfType<long>().Where(id => id >= 0 && id < vocab).Select(id => (int)id).Distinct().ToList();

        return new ModelConfig
        {
            Architecture = architecture,
            HiddenSize = hidden,
            IntermediateSize = Positive("feed_forward_length"),
            NumLayers = Positive("block_count"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            VocabSize = vocab is > 0 and <= int.MaxValue ? (int)vocab : throw new EngineException($"{file.Path}: no vocabulary size ({arch}.vocab_size, tokenizer.ggml.tokens or token_embd.weight)"),
            MaxPositionEmbeddings = Positive("context_length"),
            RmsNormEps = eps,
            RopeTheta = m.GetFloat($"{arch}.rope.freq_base") ?? 10000.0,
            RopeScaling = ReadRopeScaling(file, arch),
            RopeFrequencyFactors = ReadRopeFactors(file, headDim),
            TieWordEmbeddings = !file.TryGetTensor(GgufTensorNames.Output, out _),
            QkvBias = architecture == ModelArchitecture.Qwen2 || Has("attn_q.bias"),
            OutputProjBias = Has("attn_output.bias"),
            MlpBias = Has("ffn_up.bias"),
            DType = ActivationDType(file),
            BosTokenId = bos is >= 0 && bos < vocab ? (int)bos : null,
            EosTokenIds = eos,
        };
    }

    /// <summary>rope_freqs.weight: F32 [headDim / 2] divisors of the RoPE frequencies (Llama 3.1 scaling as llama.cpp's converter stores it).</summary>
    private static float[]? ReadRopeFactors(GgufFile file, int headDim)
    {
        if (!file.TryGetTensor(RopeFactorsTensor, out var tensor)) return null;
        if (tensor.Type != GgmlType.F32 || tensor.ElementCount != headDim / 2)
            throw new EngineException($"{file.Path}: tensor '{RopeFactorsTensor}' is {tensor.Type} [{string.Join(", ", tensor.Dims)}], expected F32 [{headDim / 2}]");
        var factors = new float[headDim / 2];
        GgufDequantizer.Dequantize(GgmlType.F32, file.Bytes(tensor), factors, RopeFactorsTensor);
        if (factors.Any(f => !(f > 0) || float.IsInfinity(f)))
            throw new EngineException($"{file.Path}: tensor '{RopeFactorsTensor}' holds a factor that is not a positive number");
        return factors;
    }

    public const string RopeFactorsTensor = "rope_freqs.weight";

    private static RopeScaling ReadRopeScaling(GgufFile file, string arch)
    {
        var m = file.Metadata;
        string type = m.GetString($"{arch}.rope.scaling.type") ?? "none";
        double factor = m.GetFloat($"{arch}.rope.scaling.factor") ?? 1.0;
        return type switch
        {
            "none" => new RopeScaling(RopeScalingType.None),
            "linear" when factor > 0 => factor == 1.0 ? new RopeScaling(RopeScalingType.None) : new RopeScaling(RopeScalingType.Linear, factor),
            _ => throw new EngineException($"{file.Path}: {arch}.rope.scaling.type {type} (factor {factor}) is not supported; supported: none, linear"),
        };
    }

    /// <summary>
    /// The float type the weights are in (the KV cache's default): that of the projection matrices when
    /// they are F32/F16/BF16, else F32 (quantized weights are dequantized to F32).
    /// </summary>
    private static DType ActivationDType(GgufFile file)
    {
        var types = file.Tensors.Where(t => t.Dims.Length == 2).Select(t => t.Type).Distinct().ToList();
        if (types.Count == 1 && types[0] == GgmlType.F16) return DType.F16;
        if (types.Count == 1 && types[0] == GgmlType.BF16) return DType.BF16;
        return DType.F32;
    }
}
