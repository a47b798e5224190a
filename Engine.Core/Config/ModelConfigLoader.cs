using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Config;

/// <summary>
/// Reads a Hugging Face <c>config.json</c> (Llama and Qwen2, transformers 4 and 5 layouts) into a
/// resolved <see cref="ModelConfig"/>, applying the defaults of transformers' config classes and
/// rejecting what the engine cannot run exactly.
/// </summary>
public static class ModelConfigLoader
{
    public const string FileName = "config.json";

    private static readonly (string ClassName, string ModelType, ModelArchitecture Architecture)[] Supported =
    [
        ("LlamaForCausalLM", "llama", ModelArchitecture.Llama),
        ("Qwen2ForCausalLM", "qwen2", ModelArchitecture.Qwen2),
    ];

    /// <summary>The config of a model folder's config.json, or of a GGUF model's metadata (a .gguf file or a folder holding one).</summary>
    public static ModelConfig Load(string folder)
    {
        if (GgufModelPath.Find(folder) is string gguf)
        {
            using var file = GgufFile.Open(gguf);
            return GgufModelConfig.Read(file);
        }
        string path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) throw new EngineException($"no {FileName} in {Path.GetFullPath(folder)}");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses config.json text; <paramref name="sourceName"/> names it in error messages.</summary>
    public static ModelConfig Parse(string json, string sourceName)
    {
        using var document = ConfigJson.ParseObject(json, sourceName);
        var c = new ConfigJson(document.RootElement, sourceName);
        var architecture = ReadArchitecture(c);

        string? activation = c.GetString("hidden_act");
        if (activation is not null && activation != "silu")
            throw c.Error($"hidden_act \"{activation}\" is not supported; Llama and Qwen2 use \"silu\"");
        if (architecture == ModelArchitecture.Qwen2 && c.GetBool("use_sliding_window") == true)
            throw c.Error("use_sliding_window is true; sliding-window attention is not supported");

        int hidden = c.RequirePositiveInt("hidden_size");
        int heads = c.RequirePositiveInt("num_attention_heads");
        int kvHeads = c.Positive("num_key_value_heads", c.GetInt("num_key_value_heads") ?? heads);
        if (heads % kvHeads != 0)
            throw c.Error($"num_attention_heads {heads} is not a multiple of num_key_value_heads {kvHeads}");
        int headDim = ReadHeadDim(c, hidden, heads);

        bool attentionBias = c.GetBool("attention_bias") ?? false;
        var (ropeTheta, ropeScaling) = RopeConfigReader.Read(c);
        return new ModelConfig
        {
            Architecture = architecture,
            HiddenSize = hidden,
            IntermediateSize = c.RequirePositiveInt("intermediate_size"),
            NumLayers = c.RequirePositiveInt("num_hidden_layers"),
            NumHeads = heads,
            NumKvHeads = kvHeads,
            HeadDim = headDim,
            VocabSize = c.RequirePositiveInt("vocab_size"),
            // Defaults are those of transformers' LlamaConfig / Qwen2Config.
            MaxPositionEmbeddings = c.Positive("max_position_embeddings",
                c.GetInt("max_position_embeddings") ?? (architecture == ModelArchitecture.Qwen2 ? 32768 : 2048)),
            RmsNormEps = c.Positive("rms_norm_eps", c.GetDouble("rms_norm_eps") ?? 1e-6),
            RopeTheta = ropeTheta,
            RopeScaling = ropeScaling,
            TieWordEmbeddings = c.GetBool("tie_word_embeddings") ?? false,
            // Qwen2 always has q/k/v biases and never an o-proj or MLP bias (its config has no key for them).
            QkvBias = architecture == ModelArchitecture.Qwen2 || attentionBias,
            OutputProjBias = architecture == ModelArchitecture.Llama && attentionBias,
            MlpBias = architecture == ModelArchitecture.Llama && (c.GetBool("mlp_bias") ?? false),
            DType = ReadDType(c),
            BosTokenId = c.GetInt("bos_token_id"),
            EosTokenIds = c.GetIntOrIntList("eos_token_id"),
        };
    }

    private static ModelArchitecture ReadArchitecture(ConfigJson c)
    {
        var names = new List<string>();
        if (c.TryGet("architectures", out var list))
        {
            if (list.ValueKind != System.Text.Json.JsonValueKind.Array)
                throw c.Error("\"architectures\" must be a list of class names");
            foreach (var item in list.EnumerateArray())
            {
                string? name = item.ValueKind == System.Text.Json.JsonValueKind.String ? item.GetString() : null;
                if (name is null) throw c.Error("\"architectures\" must be a list of class names");
                foreach (var s in Supported)
                    if (s.ClassName == name) return s.Architecture;
                names.Add(name);
            }
        }
        string? modelType = c.GetString("model_type");
        // Only when no class is named does model_type decide: a named class is more specific.
        if (names.Count == 0)
            foreach (var s in Supported)
                if (s.ModelType == modelType) return s.Architecture;

        string found = names.Count > 0 ? string.Join(", ", names) : modelType is null ? "none declared" : $"model_type {modelType}";
        string supported = string.Join(", ", Supported.Select(s => $"{s.ClassName} ({s.ModelType})"));
        throw c.Error($"unsupported architecture ({found}); supported: {supported}");
    }

    private static int ReadHeadDim(ConfigJson c, int hidden, int heads)
    {
        int? explicitHeadDim = c.GetInt("head_dim");
        int headDim;
        if (explicitHeadDim is { } d) headDim = c.Positive("head_dim", d);
        else if (hidden % heads != 0)
            throw c.Error($"hidden_size {hidden} is not divisible by num_attention_heads {heads} and no head_dim is given");
        else headDim = hidden / heads;
        // RoPE rotates pairs of dimensions.
        if (headDim % 2 != 0) throw c.Error($"head_dim {headDim} must be even for rotary embeddings");
        return headDim;
    }

    private static DType ReadDType(ConfigJson c)
    {
        // transformers 5 writes "dtype", 4.x "torch_dtype".
        string key = c.Has("dtype") ? "dtype" : "torch_dtype";
        string? name = c.GetString(key);
        // Without a declared dtype, transformers loads in float32.
        if (name is null) return DType.F32;
        return name switch
        {
            "bfloat16" => DType.BF16,
            "float16" => DType.F16,
            "float32" => DType.F32,
            _ => throw c.Error($"{key} \"{name}\" is not supported; supported: bfloat16, float16, float32"),
        };
    }
}
