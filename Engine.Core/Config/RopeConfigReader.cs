namespace Engine.Core.Config;

/// <summary>
/// Reads RoPE's base and frequency scaling from a config: transformers 5's <c>rope_parameters</c>
/// (which holds rope_theta and the scaling), or the older <c>rope_theta</c> + <c>rope_scaling</c>
/// (whose kind is <c>rope_type</c>, or <c>type</c> in older files).
/// </summary>
internal static class RopeConfigReader
{
    private const string Supported = "default, linear, llama3";

    public static (double Theta, RopeScaling Scaling) Read(ConfigJson config)
    {
        if (config.GetObject("rope_parameters") is { } parameters)
        {
            // transformers 5 nests rope_parameters per layer type for models that mix attention kinds.
            if (parameters.FirstObjectKey() is { } nested)
                throw parameters.Error($"per-layer-type rope parameters (\"{nested}\") are not supported");
            double theta = parameters.Positive("rope_theta",
                parameters.GetDouble("rope_theta") ?? config.GetDouble("rope_theta") ?? 10000.0);
            return (theta, ReadScaling(parameters, typeRequired: false));
        }
        double ropeTheta = config.Positive("rope_theta", config.GetDouble("rope_theta") ?? 10000.0);
        var scaling = config.GetObject("rope_scaling") is { } s ? ReadScaling(s, typeRequired: true) : new RopeScaling(RopeScalingType.None);
        return (ropeTheta, scaling);
    }

    /// <summary>rope_parameters may omit rope_type (plain RoPE); a rope_scaling object must say which scaling it is.</summary>
    private static RopeScaling ReadScaling(ConfigJson s, bool typeRequired)
    {
        string? type = s.GetString("rope_type") ?? s.GetString("type");
        if (type is null && typeRequired) throw s.Error($"no \"rope_type\" (or \"type\"); supported: {Supported}");
        switch (type)
        {
            case null or "default":
                return new RopeScaling(RopeScalingType.None);
            case "linear":
                return new RopeScaling(RopeScalingType.Linear, Factor: RequirePositive(s, "factor"));
            case "llama3":
                double low = RequirePositive(s, "low_freq_factor");
                double high = RequirePositive(s, "high_freq_factor");
                // The smoothing between the bands divides by (high - low).
                if (high <= low) throw s.Error($"high_freq_factor {high} must exceed low_freq_factor {low}");
                int original = s.Positive("original_max_position_embeddings",
                    s.GetInt("original_max_position_embeddings") ?? throw s.Error("llama3 rope scaling needs \"original_max_position_embeddings\""));
                return new RopeScaling(RopeScalingType.Llama3, RequirePositive(s, "factor"), low, high, original);
            default:
                throw s.Error($"rope scaling type \"{type}\" is not supported; supported: {Supported}");
        }
    }

    private static double RequirePositive(ConfigJson s, string key) =>
        s.Positive(key, s.GetDouble(key) ?? throw s.Error($"rope scaling needs \"{key}\""));
}
