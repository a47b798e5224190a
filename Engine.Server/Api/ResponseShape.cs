using System.Text.Json.Nodes;
using Engine.Models.Generation;

namespace Engine.Server.Api;

/// <summary>The id, creation time and model name every chunk of one response shares.</summary>
public sealed record ResponseMeta(string Id, long Created, string Model);

/// <summary>
/// OpenAI's JSON for chat ("chat.completion", choices with a message or a delta) and legacy completions
/// ("text_completion", choices with text), whole or as stream chunks.
/// </summary>
public sealed class ResponseShape(bool chat)
{
    public string NewId() => (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");

    /// <summary>What a chunk adds: chat's delta {"content"}, or the completion's text.</summary>
    public JsonObject Delta(string text) => chat ? new JsonObject { ["content"] = text } : new JsonObject { ["text"] = text };

    public JsonObject Chunk(ResponseMeta meta, int index, JsonObject delta, string? finishReason, JsonNode? logprobs)
    {
        var choice = new JsonObject { ["index"] = index };
        if (chat) choice["delta"] = delta;
        else choice["text"] = delta["text"]?.DeepClone() ?? "";
        choice["logprobs"] = logprobs;
        choice["finish_reason"] = finishReason;
        return Envelope(meta, chat ? "chat.completion.chunk" : "text_completion", new JsonArray(choice));
    }

    public JsonObject UsageChunk(ResponseMeta meta, IReadOnlyList<ChoiceResult> results)
    {
        var chunk = Envelope(meta, chat ? "chat.completion.chunk" : "text_completion", []);
        chunk["usage"] = Usage(results);
        return chunk;
    }

    public JsonNode Logprobs(TokenStrings strings, IReadOnlyList<GeneratedToken> tokens, int k, int textOffset) =>
        chat ? new JsonObject { ["content"] = strings.ChatEntries(tokens, k), ["refusal"] = null } : strings.Legacy(tokens, k, textOffset);

    public JsonObject Response(ResponseMeta meta, IReadOnlyList<ChoiceResult> results)
    {
        var choices = new JsonArray();
        foreach (var r in results)
        {
            var choice = new JsonObject { ["index"] = r.Index };
            if (chat)
            {
                var message = new JsonObject { ["role"] = "assistant", ["content"] = r.ToolCalls.Count > 0 && r.Text.Length == 0 ? null : r.Text };
                if (r.ToolCalls.Count > 0) message["tool_calls"] = new JsonArray(r.ToolCalls.Select(c => (JsonNode)c.ToJson()).ToArray());
                choice["message"] = message;
            }
            else choice["text"] = r.Text;
            choice["logprobs"] = r.Logprobs;
            choice["finish_reason"] = r.FinishReason;
            if (results.Count > 1) choice["kv"] = r.Kv.ToJson();
            choices.Add(choice);
        }
        var response = Envelope(meta, chat ? "chat.completion" : "text_completion", choices);
        response["usage"] = Usage(results);
        response["kv"] = results[0].Kv.ToJson();
        return response;
    }

    private static JsonObject Envelope(ResponseMeta meta, string type, JsonArray choices) => new()
    {
        ["id"] = meta.Id,
        ["object"] = type,
        ["created"] = meta.Created,
        ["model"] = meta.Model,
        ["system_fingerprint"] = null,
        ["choices"] = choices,
    };

    private static JsonObject Usage(IReadOnlyList<ChoiceResult> results)
    {
        int prompt = results.Count > 0 ? results[0].PromptTokens : 0;
        int generated = results.Sum(r => r.GeneratedTokens);
        return new JsonObject { ["prompt_tokens"] = prompt, ["completion_tokens"] = generated, ["total_tokens"] = prompt + generated };
    }
}
