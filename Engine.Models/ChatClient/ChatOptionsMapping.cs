using System.Globalization;
using System.Text.Json;
using Engine.Core;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Microsoft.Extensions.AI;
using FinishReason = Engine.Models.Generation.FinishReason;

namespace Engine.Models.ChatClient;

/// <summary>
/// <see cref="ChatOptions"/> to the engine's request options, and the engine's finish reasons back.
/// Options ChatOptions has no property for travel in AdditionalProperties under their snake_case names:
/// repetition_penalty, min_p, ignore_eos, prefill_chunk, and the KV policy (kv_policy, lagkv, lag_size,
/// sink_size, lagkv_mode, lagkv_skip_layers).
/// </summary>
public static class ChatOptionsMapping
{
    /// <summary>The finish reasons ChatFinishReason has no constant for.</summary>
    public static ChatFinishReason KvExhausted { get; } = new("kv_exhausted");
    public static ChatFinishReason Error { get; } = new("error");

    /// <summary>The request options: the engine's defaults (generation_config.json) overridden by what <paramref name="options"/> sets.</summary>
    public static GenerationOptions ToGeneration(ChatOptions? options, InferenceEngine engine, IKvCachePolicy? policy)
    {
        var defaults = engine.DefaultOptions();
        if (options is null) return defaults with { KvPolicy = policy };
        var extra = options.AdditionalProperties;
        var s = defaults.Sampling;
        var sampling = s with
        {
            Temperature = options.Temperature ?? s.Temperature,
            TopP = options.TopP ?? s.TopP,
            TopK = options.TopK ?? s.TopK,
            MinP = Number(extra, "min_p") ?? s.MinP,
            RepetitionPenalty = Number(extra, "repetition_penalty") ?? s.RepetitionPenalty,
            FrequencyPenalty = options.FrequencyPenalty ?? s.FrequencyPenalty,
            PresencePenalty = options.PresencePenalty ?? s.PresencePenalty,
            Seed = options.Seed is not { } seed ? s.Seed
                : seed is >= int.MinValue and <= int.MaxValue ? (int)seed
                : throw new EngineException($"seed must fit in 32 bits, got {seed}"),
        };
        string? prefill = Text(extra, "prefill_chunk");
        var result = defaults with
        {
            MaxTokens = options.MaxOutputTokens ?? defaults.MaxTokens,
            Sampling = sampling,
            StopStrings = options.StopSequences?.ToArray() ?? [],
            IgnoreEos = Flag(extra, "ignore_eos") ?? defaults.IgnoreEos,
            Prefill = prefill is null ? defaults.Prefill : LagKvPrefill.Parse(prefill, KvPolicy(options).LagKv(), "prefill_chunk"),
            KvPolicy = policy,
        };
        result.Validate();
        return result;
    }

    /// <summary>The KV policy the options ask for (full cache when they name none).</summary>
    public static KvPolicySpec KvPolicy(ChatOptions? options)
    {
        var extra = options?.AdditionalProperties;
        return new KvPolicySpec(Text(extra, "kv_policy"), Text(extra, "lagkv"), (int?)Number(extra, "lag_size"),
            (int?)Number(extra, "sink_size"), Text(extra, "lagkv_mode"), Text(extra, "lagkv_skip_layers"));
    }

    /// <summary>stop and eos: Stop; length and context: Length; kv_exhausted and error: their own values; cancelled: null (the call throws).</summary>
    public static ChatFinishReason? ToChat(FinishReason reason) => reason switch
    {
        FinishReason.Stop or FinishReason.Eos => ChatFinishReason.Stop,
        FinishReason.Length or FinishReason.Context => ChatFinishReason.Length,
        FinishReason.KvExhausted => KvExhausted,
        FinishReason.Error => Error,
        _ => null,
    };

    private static double? Number(AdditionalPropertiesDictionary? extra, string key)
    {
        if (extra is null || !extra.TryGetValue(key, out object? value) || value is null) return null;
        return value switch
        {
            JsonElement { ValueKind: JsonValueKind.Number } e => e.GetDouble(),
            JsonElement { ValueKind: JsonValueKind.String } e => ParseNumber(e.GetString()!, key),
            string text => ParseNumber(text, key),
            IConvertible c => c.ToDouble(CultureInfo.InvariantCulture),
            _ => throw new EngineException($"AdditionalProperties[\"{key}\"] must be a number, got {value.GetType().Name}"),
        };
    }

    private static double ParseNumber(string text, string key) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v : throw new EngineException($"AdditionalProperties[\"{key}\"] must be a number, got '{text}'");

    private static bool? Flag(AdditionalPropertiesDictionary? extra, string key) => Text(extra, key) is not { } text ? null
        : bool.TryParse(text, out bool flag) ? flag
        : throw new EngineException($"AdditionalProperties[\"{key}\"] must be true or false, got '{text}'");

    private static string? Text(AdditionalPropertiesDictionary? extra, string key)
    {
        if (extra is null || !extra.TryGetValue(key, out object? value) || value is null) return null;
        return value switch
        {
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
            JsonElement e => e.GetRawText(),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString(),
        };
    }
}
