using System.Text.Json;
using Engine.Core;
using Engine.Core.Text.Templates;
using Engine.Models.Kv;

namespace Engine.Cli.Commands;

/// <summary>
/// One line of an `engine run --batch` file: a prompt (`prompt`, `prompt_ids` or `messages`) and the
/// request options it sets (null: the command line's). Field names are `run --json`'s and vLLM's.
/// </summary>
internal sealed record BatchRequest(int Line)
{
    public string? Prompt { get; private init; }
    public int[]? PromptIds { get; private init; }
    public IReadOnlyList<ChatMessage>? Messages { get; private init; }
    public int? MaxTokens { get; private init; }
    public double? Temperature { get; private init; }
    public int? TopK { get; private init; }
    public double? TopP { get; private init; }
    public double? MinP { get; private init; }
    public double? RepetitionPenalty { get; private init; }
    public double? FrequencyPenalty { get; private init; }
    public double? PresencePenalty { get; private init; }
    public int? Seed { get; private init; }
    public string[]? Stop { get; private init; }
    public int? Logprobs { get; private init; }
    public bool? IgnoreEos { get; private init; }
    /// <summary>A token count, 0 (whole prompt) or "auto", as text.</summary>
    public string? PrefillChunk { get; private init; }
    public KvPolicySpec Kv { get; private init; } = new();

    /// <summary>Every non-blank line of <paramref name="path"/>; a malformed one is an error naming its line number.</summary>
    public static IReadOnlyList<BatchRequest> ReadFile(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"--batch file '{path}' not found");
        var requests = new List<BatchRequest>();
        int number = 0;
        foreach (string text in File.ReadLines(path))
        {
            number++;
            if (!string.IsNullOrWhiteSpace(text)) requests.Add(Parse(text, number));
        }
        if (requests.Count == 0) throw new EngineException($"--batch file '{path}' has no requests (one JSON object per line)");
        return requests;
    }

    public static BatchRequest Parse(string json, int line)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new EngineException("expected a JSON object");
            var request = new BatchRequest(line);
            foreach (var field in document.RootElement.EnumerateObject())
            {
                try
                {
                    request = request.With(field.Name, field.Value);
                }
                catch (Exception e) when (e is InvalidOperationException or FormatException)
                {
                    throw new EngineException($"field '{field.Name}' has the wrong type ({field.Value.ValueKind}): {e.Message}");
                }
            }
            int prompts = (request.Prompt is null ? 0 : 1) + (request.PromptIds is null ? 0 : 1) + (request.Messages is null ? 0 : 1);
            if (prompts != 1) throw new EngineException("give exactly one of prompt, prompt_ids or messages");
            return request;
        }
        catch (JsonException e)
        {
            throw new EngineException($"--batch line {line}: not valid JSON: {e.Message.ReplaceLineEndings(" ")}");
        }
        catch (EngineException e)
        {
            throw new EngineException($"--batch line {line}: {e.Message}");
        }
    }

    private BatchRequest With(string name, JsonElement value) => name switch
    {
        "prompt" => this with { Prompt = value.GetString() },
        "prompt_ids" => this with { PromptIds = value.EnumerateArray().Select(e => e.GetInt32()).ToArray() },
        "messages" => this with { Messages = value.EnumerateArray().Select(ReadMessage).ToArray() },
        "max_tokens" => this with { MaxTokens = value.GetInt32() },
        "temperature" => this with { Temperature = value.GetDouble() },
        "top_k" => this with { TopK = value.GetInt32() },
        "top_p" => this with { TopP = value.GetDouble() },
        "min_p" => this with { MinP = value.GetDouble() },
        "repetition_penalty" => this with { RepetitionPenalty = value.GetDouble() },
        "frequency_penalty" => this with { FrequencyPenalty = value.GetDouble() },
        "presence_penalty" => this with { PresencePenalty = value.GetDouble() },
        "seed" => this with { Seed = value.GetInt32() },
        "stop" => this with { Stop = value.ValueKind == JsonValueKind.String ? [value.GetString()!] : value.EnumerateArray().Select(e => e.GetString()!).ToArray() },
        "logprobs" => this with { Logprobs = value.GetInt32() },
        "ignore_eos" => this with { IgnoreEos = value.GetBoolean() },
        "prefill_chunk" => this with { PrefillChunk = value.ValueKind == JsonValueKind.Number ? value.GetInt32().ToString() : value.GetString() },
        "kv_policy" => this with { Kv = Kv with { Policy = value.GetString() } },
        "lagkv" => this with { Kv = Kv with { Ratio = value.GetString() } },
        "lag_size" => this with { Kv = Kv with { LagSize = value.GetInt32() } },
        "sink_size" => this with { Kv = Kv with { SinkSize = value.GetInt32() } },
        "lagkv_mode" => this with { Kv = Kv with { Mode = value.GetString() } },
        "lagkv_skip_layers" => this with { Kv = Kv with { SkipLayers = value.GetString() } },
        _ => throw new EngineException($"unknown field '{name}'"),
    };

    private static ChatMessage ReadMessage(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out var role) || !message.TryGetProperty("content", out var content))
            throw new EngineException("each message needs a role and a content");
        return new ChatMessage(role.GetString()!, content.GetString()!);
    }
}
