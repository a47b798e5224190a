using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Core.Config;
using Engine.Core.Hub;
using Engine.Cli.Options;
using Engine.Cli.Formatting;

namespace Engine.Cli.Commands;

/// <summary>`engine info --model M`: a model's architecture, sizes, numerics and files, read without loading it onto a device.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var json = new Option<bool>("--json") { Description = "Print the information as JSON" };
        var kvDType = new Option<string?>("--kv-dtype") { Description = "KV cache dtype for the per-token KV size: f32, f16 or bf16 (default: the model's dtype)" };
        var command = new Command("info", "Show a model's architecture, parameter count, sizes and files");
        command.Options.Add(model);
        command.Options.Add(json);
        command.Options.Add(kvDType);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            var info = ModelInfo.Inspect(ModelLocator.ResolveFolder(pr.GetValue(model)!));
            DType kv = ParseKvDType(pr.GetValue(kvDType)) ?? info.Config.DType;
            var output = pr.InvocationConfiguration.Output;
            if (pr.GetValue(json)) output.WriteLine(ToJson(info, kv).ToJsonString(CliJson.Indented));
            else WriteText(info, kv, output);
            return 0;
        }));
        return command;
    }

    private static DType? ParseKvDType(string? text)
    {
        if (text is null) return null;
        return DTypes.TryParse(text, out var t) ? t : throw new EngineException($"--kv-dtype '{text}' is not one of f32, f16, bf16");
    }

    private static void WriteText(ModelInfo info, DType kv, TextWriter o)
    {
        var c = info.Config;
        var rows = new List<(string Key, string Value)>
        {
            ("model", info.Folder),
            ("architecture", ArchitectureName(c.Architecture)),
            ("parameters", $"{Count(info.ParameterCount)} ({Human(info.ParameterCount, 1000, ["", "thousand", "million", "billion", "trillion"])})"),
            ("dtype", $"{DTypeName(c.DType)} (config); weights stored as {string.Join(", ", info.TensorTypes.Select(t => t.Type))}"),
            ("tensor types", string.Join(", ", info.TensorTypes.Select(t => $"{t.Type} {t.Count} ({Bytes(t.Bytes)})"))),
            ("weight bytes", Bytes(info.WeightBytes)),
            ("kv bytes/token", $"{Bytes(info.KvBytesPerToken(kv))} at {DTypes.SafetensorsName(kv)}"),
            ("context length", Count(c.MaxPositionEmbeddings)),
            ("layers", Count(c.NumLayers)),
            ("hidden size", Count(c.HiddenSize)),
            ("intermediate size", Count(c.IntermediateSize)),
            ("attention heads", $"{c.NumHeads} query, {c.NumKvHeads} key/value{(c.NumHeads != c.NumKvHeads ? $" (GQA, {c.NumHeads / c.NumKvHeads} per group)" : "")}, head_dim {c.HeadDim}"),
            ("vocab size", Count(c.VocabSize)),
            ("rope", RopeText(c) + (c.RopeFrequencyFactors is { } factors ? $"; {factors.Count} per-frequency factors (rope_freqs, max {factors.Max().ToString("R", CultureInfo.InvariantCulture)})" : "")),
            ("rms_norm_eps", c.RmsNormEps.ToString("R", CultureInfo.InvariantCulture).Replace('E', 'e')),
            ("tied embeddings", c.TieWordEmbeddings ? "yes" : "no"),
            ("biases", BiasText(c)),
            ("bos / eos", $"{info.Generation.BosTokenId?.ToString(CultureInfo.InvariantCulture) ?? "none"} / {(info.Generation.EosTokenIds.Count == 0 ? "none" : string.Join(", ", info.Generation.EosTokenIds))}"),
            ("generation", GenerationText(info.Generation)),
        };
        int width = rows.Max(r => r.Key.Length) + 2;
        foreach (var (key, value) in rows) o.WriteLine(key.PadRight(width) + value);
        o.WriteLine("files");
        int nameWidth = info.Files.Count == 0 ? 0 : info.Files.Max(f => f.Name.Length) + 2;
        foreach (var f in info.Files) o.WriteLine("  " + f.Name.PadRight(nameWidth) + Bytes(f.Bytes));
    }

    private static JsonObject ToJson(ModelInfo info, DType kv)
    {
        var c = info.Config;
        var g = info.Generation;
        return new JsonObject
        {
            ["model"] = info.Folder,
            ["architecture"] = ArchitectureName(c.Architecture),
            ["parameters"] = info.ParameterCount,
            ["dtype"] = DTypeName(c.DType),
            ["weight_dtypes"] = new JsonArray(info.TensorTypes.Select(t => (JsonNode)t.Type).ToArray()),
            ["tensor_types"] = new JsonArray(info.TensorTypes.Select(t => (JsonNode)new JsonObject { ["type"] = t.Type, ["count"] = t.Count, ["bytes"] = t.Bytes }).ToArray()),
            ["weight_bytes"] = info.WeightBytes,
            ["kv_dtype"] = DTypes.SafetensorsName(kv),
            ["kv_bytes_per_token"] = info.KvBytesPerToken(kv),
            ["context_length"] = c.MaxPositionEmbeddings,
            ["layers"] = c.NumLayers,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["num_attention_heads"] = c.NumHeads,
            ["num_key_value_heads"] = c.NumKvHeads,
            ["head_dim"] = c.HeadDim,
            ["vocab_size"] = c.VocabSize,
            ["rope_theta"] = c.RopeTheta,
            ["rope_scaling"] = c.RopeScaling.Type == RopeScalingType.None ? null : new JsonObject
            {
                ["type"] = c.RopeScaling.Type == RopeScalingType.Llama3 ? "llama3" : "linear",
                ["factor"] = c.RopeScaling.Factor,
                ["low_freq_factor"] = c.RopeScaling.LowFreqFactor,
                ["high_freq_factor"] = c.RopeScaling.HighFreqFactor,
                ["original_max_position_embeddings"] = c.RopeScaling.OriginalMaxPositionEmbeddings,
            },
            ["rms_norm_eps"] = c.RmsNormEps,
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
            ["qkv_bias"] = c.QkvBias,
            ["o_proj_bias"] = c.OutputProjBias,
            ["mlp_bias"] = c.MlpBias,
            ["bos_token_id"] = g.BosTokenId,
            ["eos_token_ids"] = new JsonArray(g.EosTokenIds.Select(id => (JsonNode)id).ToArray()),
            ["generation"] = new JsonObject
            {
                ["greedy"] = g.IsGreedy,
                ["temperature"] = g.Temperature,
                ["top_k"] = g.TopK,
                ["top_p"] = g.TopP,
                ["min_p"] = g.MinP,
                ["repetition_penalty"] = g.RepetitionPenalty,
                ["max_new_tokens"] = g.MaxNewTokens,
                ["max_length"] = g.MaxLength,
            },
            ["files"] = new JsonArray(info.Files.Select(f => (JsonNode)new JsonObject { ["name"] = f.Name, ["bytes"] = f.Bytes }).ToArray()),
        };
    }

    private static string ArchitectureName(ModelArchitecture a) => a switch
    {
        ModelArchitecture.Llama => "LlamaForCausalLM",
        ModelArchitecture.Qwen2 => "Qwen2ForCausalLM",
        _ => a.ToString(),
    };

    private static string DTypeName(DType t) => t switch
    {
        DType.BF16 => "bfloat16",
        DType.F16 => "float16",
        DType.F32 => "float32",
        _ => t.ToString(),
    };

    private static string RopeText(ModelConfig c)
    {
        string theta = $"theta {c.RopeTheta.ToString("R", CultureInfo.InvariantCulture)}";
        var s = c.RopeScaling;
        return s.Type switch
        {
            RopeScalingType.Linear => $"{theta}, linear scaling x{s.Factor.ToString(CultureInfo.InvariantCulture)}",
            RopeScalingType.Llama3 => FormattableString.Invariant(
                $"{theta}, llama3 scaling x{s.Factor} (low {s.LowFreqFactor}, high {s.HighFreqFactor}, original context {s.OriginalMaxPositionEmbeddings})"),
            _ => $"{theta}, no scaling",
        };
    }

    private static string BiasText(ModelConfig c)
    {
        var parts = new List<string>();
        if (c.QkvBias) parts.Add("q/k/v");
        if (c.OutputProjBias) parts.Add("o");
        if (c.MlpBias) parts.Add("mlp");
        return parts.Count == 0 ? "none" : string.Join(", ", parts);
    }

    private static string GenerationText(GenerationDefaults g)
    {
        if (g.IsGreedy) return "greedy";
        var parts = new List<string> { "sampling" };
        if (g.Temperature is { } t) parts.Add(FormattableString.Invariant($"temperature {t}"));
        if (g.TopK is { } k) parts.Add($"top_k {k}");
        if (g.TopP is { } p) parts.Add(FormattableString.Invariant($"top_p {p}"));
        if (g.MinP is { } m) parts.Add(FormattableString.Invariant($"min_p {m}"));
        if (g.RepetitionPenalty is { } r) parts.Add(FormattableString.Invariant($"repetition_penalty {r}"));
        return string.Join(", ", parts);
    }

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Bytes(long n) => n < 1024 ? $"{Count(n)} B" : $"{Count(n)} B ({Human(n, 1024, ["B", "KiB", "MiB", "GiB", "TiB"])})";

    private static string Human(long n, double step, string[] units)
    {
        double v = n;
        int u = 0;
        while (v >= step && u < units.Length - 1) { v /= step; u++; }
        return u == 0 ? $"{n} {units[0]}".TrimEnd() : FormattableString.Invariant($"{v:0.0} {units[u]}");
    }
}
