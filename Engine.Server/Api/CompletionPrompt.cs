using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Server.Api;

/// <summary>A legacy completion's prompt: a string (tokenized, BOS added as the tokenizer does) or token ids.</summary>
public static class CompletionPrompt
{
    public static int[] Build(JsonObject body, EngineGateway gateway)
    {
        var engine = gateway.Engine;
        var prompt = body["prompt"] ?? throw ApiException.BadRequest("'prompt' is required", "prompt", "missing_field");
        // A list of one prompt is that prompt; several prompts in one request are not supported.
        if (prompt is JsonArray { Count: 1 } single && single[0] is JsonArray or JsonValue { } && JsonFields.TokenIds(prompt) is null) prompt = single[0]!;
        if (JsonFields.TokenIds(prompt) is { } ids) return ids;
        if (prompt is JsonValue v && v.GetValueKind() == JsonValueKind.String)
        {
            var tokenizer = engine.Tokenizer ?? throw ApiException.BadRequest("the model has no tokenizer: give the prompt as token ids", "prompt");
            string text = v.GetValue<string>();
            if (text.Length == 0) throw ApiException.BadRequest("'prompt' must not be empty", "prompt");
            return tokenizer.Encode(text);
        }
        if (prompt is JsonArray { Count: > 1 }) throw ApiException.BadRequest("several prompts in one request are not supported: send one prompt per request", "prompt", "unsupported_field");
        throw JsonFields.Wrong("prompt", "a string or a list of token ids");
    }
}
