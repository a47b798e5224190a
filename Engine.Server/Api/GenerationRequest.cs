using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Core.Sampling;

namespace Engine.Server.Api;

/// <summary>
/// The fields /v1/chat/completions and /v1/completions share, read and checked: sampling, stop, n,
/// logprobs, streaming, the kv_policy extension. Fields that would change the output but are not
/// supported are a 400 naming them, never ignored.
/// </summary>
public sealed record GenerationRequest
{
    public string? Model { get; init; }
    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    public double? MinP { get; init; }
    public double? RepetitionPenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    public double? PresencePenalty { get; init; }
    public int? Seed { get; init; }
    public IReadOnlyList<string> Stop { get; init; } = [];
    public int N { get; init; } = 1;
    /// <summary>Top log-probabilities per token to report; null: no logprobs at all.</summary>
    public int? TopLogprobs { get; init; }
    public bool Stream { get; init; }
    public bool IncludeUsage { get; init; }
    /// <summary>Extension `stream_options.include_kv`: chunks carry the cache's per-layer lengths as it fills and compresses.</summary>
    public bool IncludeKv { get; init; }
    public bool IgnoreEos { get; init; }
    public KvPolicyRequest? KvPolicy { get; init; }

    /// <summary>Fields read elsewhere (messages, prompt, tools) or that do not change the output.</summary>
    private static readonly HashSet<string> Harmless =
    [
        "user", "metadata", "store", "service_tier", "parallel_tool_calls", "stream_options", "messages", "prompt",
        "tools", "tool_choice", "chat_template_kwargs", "add_generation_prompt",
    ];

    private static readonly HashSet<string> Known =
    [
        "model", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty",
        "frequency_penalty", "presence_penalty", "seed", "stop", "n", "logprobs", "top_logprobs", "stream", "ignore_eos",
        "kv_policy", "response_format", "logit_bias", "echo", "best_of", "suffix", "modalities",
    ];

    /// <param name="chat">Chat shape (logprobs: bool + top_logprobs) or legacy completions (logprobs: K).</param>
    public static GenerationRequest Parse(JsonObject o, bool chat)
    {
        foreach (var (key, _) in o)
        {
            if (!Known.Contains(key) && !Harmless.Contains(key))
                throw ApiException.BadRequest($"unsupported field '{key}'", key, "unsupported_field");
            if (chat ? key == "prompt" : key is "messages" or "tools" or "tool_choice" or "chat_template_kwargs" or "add_generation_prompt")
                throw ApiException.BadRequest($"'{key}' belongs to {(chat ? "/v1/completions" : "/v1/chat/completions")}", key, "unsupported_field");
        }
        RejectUnsupported(o, chat);

        int? maxTokens = JsonFields.Int(o, "max_completion_tokens") ?? JsonFields.Int(o, "max_tokens");
        if (maxTokens is < 1) throw ApiException.BadRequest($"max_tokens must be >= 1, got {maxTokens}", o.ContainsKey("max_completion_tokens") ? "max_completion_tokens" : "max_tokens");
        int n = JsonFields.Int(o, "n") ?? 1;
        if (n < 1 || n > 16) throw ApiException.BadRequest($"n must be between 1 and 16, got {n}", "n");

        var streamOptions = JsonFields.Object(o, "stream_options");
        bool stream = JsonFields.Bool(o, "stream") ?? false;
        if (streamOptions is not null && !stream) throw ApiException.BadRequest("stream_options is only allowed with stream: true", "stream_options");

        var request = new GenerationRequest
        {
            Model = JsonFields.String(o, "model"),
            MaxTokens = maxTokens,
            Temperature = JsonFields.Number(o, "temperature"),
            TopP = JsonFields.Number(o, "top_p"),
            TopK = JsonFields.Int(o, "top_k") is { } k ? (k < 0 ? 0 : k) : null, // -1 means off in vLLM
            MinP = JsonFields.Number(o, "min_p"),
            RepetitionPenalty = JsonFields.Number(o, "repetition_penalty"),
            FrequencyPenalty = JsonFields.Number(o, "frequency_penalty"),
            PresencePenalty = JsonFields.Number(o, "presence_penalty"),
            Seed = JsonFields.Int(o, "seed"),
            Stop = ReadStop(o),
            N = n,
            TopLogprobs = chat ? ChatLogprobs(o) : LegacyLogprobs(o),
            Stream = stream,
            IncludeUsage = streamOptions is not null && (JsonFields.Bool(streamOptions, "include_usage", "stream_options.include_usage") ?? false),
            IncludeKv = streamOptions is not null && (JsonFields.Bool(streamOptions, "include_kv", "stream_options.include_kv") ?? false),
            IgnoreEos = JsonFields.Bool(o, "ignore_eos") ?? false,
            KvPolicy = KvPolicyRequest.Parse(o),
        };
        _ = request.SamplingWith(new SamplingOptions()); // a bad value is a 400 now, before any queueing
        return request;
    }

    /// <summary>The request's sampling over the model's defaults.</summary>
    public SamplingOptions SamplingWith(SamplingOptions defaults)
    {
        var s = defaults with
        {
            Temperature = Temperature ?? defaults.Temperature,
            TopK = TopK ?? defaults.TopK,
            TopP = TopP ?? defaults.TopP,
            MinP = MinP ?? defaults.MinP,
            RepetitionPenalty = RepetitionPenalty ?? defaults.RepetitionPenalty,
            FrequencyPenalty = FrequencyPenalty ?? defaults.FrequencyPenalty,
            PresencePenalty = PresencePenalty ?? defaults.PresencePenalty,
            Seed = Seed,
        };
        try
        {
            s.Validate();
        }
        catch (Engine.Core.EngineException e)
        {
            throw ApiException.BadRequest(e.Message, FieldOf(e.Message));
        }
        return s;
    }

    private static string? FieldOf(string message) =>
        message.StartsWith("temperature", StringComparison.Ordinal) ? "temperature"
        : message.StartsWith("top-k", StringComparison.Ordinal) ? "top_k"
        : message.StartsWith("top-p", StringComparison.Ordinal) ? "top_p"
        : message.StartsWith("min-p", StringComparison.Ordinal) ? "min_p"
        : message.StartsWith("repetition", StringComparison.Ordinal) ? "repetition_penalty"
        : message.StartsWith("frequency", StringComparison.Ordinal) ? "frequency_penalty"
        : message.StartsWith("presence", StringComparison.Ordinal) ? "presence_penalty"
        : null;

    private static void RejectUnsupported(JsonObject o, bool chat)
    {
        if (JsonFields.Object(o, "logit_bias") is { Count: > 0 })
            throw ApiException.BadRequest("logit_bias is not supported", "logit_bias", "unsupported_field");
        if (JsonFields.Object(o, "response_format") is { } format && JsonFields.String(format, "type", "response_format.type") is { } type && type != "text")
            throw ApiException.BadRequest($"response_format of type '{type}' is not supported (only text): output is not constrained", "response_format", "unsupported_field");
        if (JsonFields.Bool(o, "echo") == true) throw ApiException.BadRequest("echo is not supported", "echo", "unsupported_field");
        if (JsonFields.Int(o, "best_of") is > 1) throw ApiException.BadRequest("best_of > 1 is not supported", "best_of", "unsupported_field");
        if (JsonFields.String(o, "suffix") is { Length: > 0 }) throw ApiException.BadRequest("suffix is not supported", "suffix", "unsupported_field");
        if (o["modalities"] is JsonArray modalities && modalities.Any(m => m?.GetValueKind() != JsonValueKind.String || m.GetValue<string>() != "text"))
            throw ApiException.BadRequest("only the text modality is supported", "modalities", "unsupported_field");
        if (!chat && o.ContainsKey("top_logprobs")) throw ApiException.BadRequest("top_logprobs belongs to chat completions; use logprobs: K", "top_logprobs");
    }

    private static IReadOnlyList<string> ReadStop(JsonObject o) =>
        o["stop"] switch
        {
            null => [],
            JsonValue v when v.GetValueKind() == JsonValueKind.String => [v.GetValue<string>()],
            JsonArray a when a.Count <= 16 && a.All(x => x?.GetValueKind() == JsonValueKind.String) => a.Select(x => x!.GetValue<string>()).Where(s => s.Length > 0).ToArray(),
            _ => throw JsonFields.Wrong("stop", "a string or a list of at most 16 strings"),
        };

    private static int? ChatLogprobs(JsonObject o)
    {
        bool logprobs = JsonFields.Bool(o, "logprobs") ?? false;
        int? top = JsonFields.Int(o, "top_logprobs");
        if (top is < 0 or > Engine.Core.Sampling.TopLogprobs.MaxK) throw ApiException.BadRequest($"top_logprobs must be between 0 and {Engine.Core.Sampling.TopLogprobs.MaxK}", "top_logprobs");
        if (top is not null && !logprobs) throw ApiException.BadRequest("top_logprobs needs logprobs: true", "top_logprobs");
        return logprobs ? top ?? 0 : null;
    }

    private static int? LegacyLogprobs(JsonObject o)
    {
        int? k = JsonFields.Int(o, "logprobs");
        if (k is < 0 or > Engine.Core.Sampling.TopLogprobs.MaxK) throw ApiException.BadRequest($"logprobs must be between 0 and {Engine.Core.Sampling.TopLogprobs.MaxK}", "logprobs");
        return k;
    }
}
