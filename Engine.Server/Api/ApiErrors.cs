using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Api;

/// <summary>Errors in OpenAI's shape: {"error": {"message", "type", "param", "code"}}.</summary>
public static class ApiErrors
{
    public static JsonObject Body(string message, string type, string? param, string? code) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = type,
            ["param"] = param,
            ["code"] = code,
        },
    };

    public static JsonObject Body(ApiException e) => Body(e.Message, e.Type, e.Param, e.Code);

    public static Task WriteAsync(HttpContext context, ApiException e)
    {
        context.Response.StatusCode = e.Status;
        if (e.Status == 503) context.Response.Headers.RetryAfter = "1";
        return JsonResponses.WriteAsync(context, Body(e));
    }
}
