namespace Engine.Core.Config;

/// <summary>Reads the optional <c>generation_config.json</c> into <see cref="GenerationDefaults"/>.</summary>
public static class GenerationConfigLoader
{
    public const string FileName = "generation_config.json";

    /// <summary>The folder's generation defaults united with <paramref name="model"/>'s BOS/EOS; config.json's alone when the file is absent.</summary>
    public static GenerationDefaults Load(string folder, ModelConfig model)
    {
        string path = Path.Combine(folder, FileName);
        return File.Exists(path) ? UniteWith(Parse(File.ReadAllText(path), path), model) : GenerationDefaults.From(model);
    }

    /// <summary>Parses generation_config.json text alone; <paramref name="sourceName"/> names it in errors.</summary>
    public static GenerationDefaults Parse(string json, string sourceName)
    {
        using var document = ConfigJson.ParseObject(json, sourceName);
        var c = new ConfigJson(document.RootElement, sourceName);
        var result = new GenerationDefaults
        {
            DoSample = c.GetBool("do_sample"),
            Temperature = c.GetDouble("temperature"),
            TopK = c.GetInt("top_k"),
            TopP = c.GetDouble("top_p"),
            MinP = c.GetDouble("min_p"),
            RepetitionPenalty = c.GetDouble("repetition_penalty"),
            MaxNewTokens = c.GetInt("max_new_tokens"),
            MaxLength = c.GetInt("max_length"),
            BosTokenId = c.GetInt("bos_token_id"),
            EosTokenIds = c.GetIntOrIntList("eos_token_id"),
        };
        Validate(result, c);
        return result;
    }

    /// <summary>EOS ids of both files (generation_config.json's first); BOS from generation_config.json, else config.json.</summary>
    public static GenerationDefaults UniteWith(GenerationDefaults generation, ModelConfig model) => generation with
    {
        BosTokenId = generation.BosTokenId ?? model.BosTokenId,
        EosTokenIds = generation.EosTokenIds.Concat(model.EosTokenIds).Distinct().ToList(),
    };

    private static void Validate(GenerationDefaults g, ConfigJson c)
    {
        if (g.Temperature < 0) throw c.Error($"\"temperature\" must not be negative, found {g.Temperature}");
        if (g.TopK < 0) throw c.Error($"\"top_k\" must not be negative, found {g.TopK}");
        if (g.TopP is { } p && (p <= 0 || p > 1)) throw c.Error($"\"top_p\" must be in (0, 1], found {p}");
        if (g.MinP is { } m && (m < 0 || m > 1)) throw c.Error($"\"min_p\" must be in [0, 1], found {m}");
        if (g.RepetitionPenalty <= 0) throw c.Error($"\"repetition_penalty\" must be positive, found {g.RepetitionPenalty}");
        if (g.MaxNewTokens <= 0) throw c.Error($"\"max_new_tokens\" must be positive, found {g.MaxNewTokens}");
        if (g.MaxLength <= 0) throw c.Error($"\"max_length\" must be positive, found {g.MaxLength}");
    }
}
