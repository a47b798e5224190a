using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Api;

/// <summary>
/// POST /tokenize {"content": text, "add_special": bool} → {"tokens": [...]} and POST /detokenize
/// {"tokens": [...]} → {"content": text}, as llama-server answers them.
/// </summary>
public static class TokenizeEndpoints
{
    public static async Task TokenizeAsync(HttpContext context, EngineGateway gateway)
    {
        var body = await JsonResponses.ReadObjectAsync(context);
        var tokenizer = gateway.Engine.Tokenizer ?? throw ApiException.BadRequest("the model has no tokenizer");
        string content = JsonFields.String(body, "content") ?? JsonFields.String(body, "prompt") ?? throw ApiException.BadRequest("'content' is required", "content", "missing_field");
        bool addSpecial = JsonFields.Bool(body, "add_special") ?? true;
        int[] ids = tokenizer.Encode(content, addSpecial);
        await JsonResponses.WriteAsync(context, new JsonObject
        {
            ["tokens"] = new JsonArray(ids.Select(i => (JsonNode)i).ToArray()),
            ["count"] = ids.Length,
            ["max_model_len"] = gateway.Engine.ContextLimit,
        });
    }

    public static async Task DetokenizeAsync(HttpContext context, EngineGateway gateway)
    {
        var body = await JsonResponses.ReadObjectAsync(context);
        var engine = gateway.Engine;
        var tokenizer = engine.Tokenizer ?? throw ApiException.BadRequest("the model has no tokenizer");
        var node = body["tokens"] ?? throw ApiException.BadRequest("'tokens' is required", "tokens", "missing_field");
        int[] ids = node is JsonArray { Count: 0 } ? [] : JsonFields.TokenIds(node) ?? throw JsonFields.Wrong("tokens", "a list of token ids");
        foreach (int id in ids)
            if (id >= engine.Config.VocabSize) throw ApiException.BadRequest($"token id {id} is outside the vocabulary (0..{engine.Config.VocabSize - 1})", "tokens");
        await JsonResponses.WriteAsync(context, new JsonObject { ["content"] = tokenizer.Decode(ids) });
    }
}
