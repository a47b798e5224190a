using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Api;

/// <summary>Writes JSON bodies (UTF-8, relaxed escaping so text stays readable).</summary>
public static class JsonResponses
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Serialize(JsonNode node) => node.ToJsonString(Options);

    public static async Task WriteAsync(HttpContext context, JsonNode body)
    {
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(Serialize(body), Encoding.UTF8, context.RequestAborted);
    }

    /// <summary>The request body as a JSON object, or a 400 naming what is wrong with it.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpContext context)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"the request body is not valid JSON: {e.Message.ReplaceLineEndings(" ")}");
        }
        return node as JsonObject ?? throw ApiException.BadRequest("the request body must be a JSON object");
    }
}
