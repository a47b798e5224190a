using System.Text.Json;
using Engine.Core.Config;

namespace Engine.Core.Hub;

/// <summary>
/// Reads a registry entry's <c>config</c> object, written with config.json's own field names, into a
/// <see cref="ModelConfig"/>. Only the subset the registry records is read; every field is required.
/// </summary>
internal static class RegistryConfigReader
{
    public static ModelConfig Read(JsonElement config, ModelArchitecture architecture, string where)
    {
        if (config.ValueKind != JsonValueKind.Object) throw new EngineException($"{where}: 'config' must be an object");
        bool attentionBias = OptionalBool(config, "attention_bias", where);
        return new ModelConfig
        {
            Architecture = architecture,
            HiddenSize = Int(config, "hidden_size", where),
            IntermediateSize = Int(config, "intermediate_size", where),
            NumLayers = Int(config, "num_hidden_layers", where),
            NumHeads = Int(config, "num_attention_heads", where),
            NumKvHeads = Int(config, "num_key_value_heads", where),
            HeadDim = Int(config, "head_dim", where),
            VocabSize = Int(config, "vocab_size", where),
            MaxPositionEmbeddings = Int(config, "max_position_embeddings", where),
            RmsNormEps = Double(config, "rms_norm_eps", where),
            RopeTheta = Double(config, "rope_theta", where),
            RopeScaling = ReadRopeScaling(config, where),
            TieWordEmbeddings = Bool(config, "tie_word_embeddings", where),
            // Qwen2 always has q/k/v biases and never an o bias; Llama follows attention_bias.
            QkvBias = architecture == ModelArchitecture.Qwen2 || attentionBias,
            OutputProjBias = architecture == ModelArchitecture.Llama && attentionBias,
            MlpBias = OptionalBool(config, "mlp_bias", where),
            DType = ReadDType(config, where),
            BosTokenId = config.TryGetProperty("bos_token_id", out var bos) && bos.ValueKind == JsonValueKind.Number ? bos.GetInt32() : null,
            EosTokenIds = ReadEos(config, where),
        };
    }

    private static RopeScaling ReadRopeScaling(JsonElement config, string where)
    {
        if (!config.TryGetProperty("rope_scaling", out var scaling) || scaling.ValueKind == JsonValueKind.Null)
            return new RopeScaling(RopeScalingType.None);
        string type = scaling.TryGetProperty("rope_type", out var t) ? t.GetString() ?? "" : "";
        return type switch
        {
            "llama3" => new RopeScaling(RopeScalingType.Llama3,
                Double(scaling, "factor", where), Double(scaling, "low_freq_factor", where),
                Double(scaling, "high_freq_factor", where), Int(scaling, "original_max_position_embeddings", where)),
            "linear" => new RopeScaling(RopeScalingType.Linear, Double(scaling, "factor", where)),
            "default" => new RopeScaling(RopeScalingType.None),
            _ => throw new EngineException($"{where}: unsupported rope_scaling type '{type}'"),
        };
    }

    private static DType ReadDType(JsonElement config, string where)
    {
        string name = config.TryGetProperty("torch_dtype", out var d) ? d.GetString() ?? "" : "";
        return name switch
        {
            "bfloat16" => DType.BF16,
            "float16" => DType.F16,
            "float32" => DType.F32,
            _ => throw new EngineException($"{where}: unsupported torch_dtype '{name}'"),
        };
    }

    private static IReadOnlyList<int> ReadEos(JsonElement config, string where)
    {
        if (!config.TryGetProperty("eos_token_id", out var eos) || eos.ValueKind == JsonValueKind.Null) return [];
        if (eos.ValueKind == JsonValueKind.Number) return [eos.GetInt32()];
        if (eos.ValueKind == JsonValueKind.Array) return eos.EnumerateArray().Select(e => e.GetInt32()).ToArray();
        throw new EngineException($"{where}: eos_token_id must be a number or an array");
    }

    private static JsonElement Required(JsonElement o, string name, string where) =>
        o.TryGetProperty(name, out var value) ? value : throw new EngineException($"{where}: missing '{name}'");

    private static int Int(JsonElement o, string name, string where)
    {
        var value = Required(o, name, where);
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int n) || n <= 0)
            throw new EngineException($"{where}: '{name}' must be a positive integer");
        return n;
    }

    private static double Double(JsonElement o, string name, string where)
    {
        var value = Required(o, name, where);
        if (value.ValueKind != JsonValueKind.Number || value.GetDouble() <= 0)
            throw new EngineException($"{where}: '{name}' must be a positive number");
        return value.GetDouble();
    }

    private static bool Bool(JsonElement o, string name, string where)
    {
        var value = Required(o, name, where);
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new EngineException($"{where}: '{name}' must be true or false"),
        };
    }

    private static bool OptionalBool(JsonElement o, string name, string where) =>
        o.TryGetProperty(name, out _) && Bool(o, name, where);
}
