using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Api;

/// <summary>Server-sent events as OpenAI streams them: `data: {json}` per event, `data: [DONE]` at the end.</summary>
public sealed class SseWriter(HttpContext context)
{
    private readonly HttpResponse _response = context.Response;

    public async Task StartAsync()
    {
        _response.StatusCode = 200;
        _response.ContentType = "text/event-stream; charset=utf-8";
        _response.Headers.CacheControl = "no-cache";
        _response.Headers["X-Accel-Buffering"] = "no";
        await _response.StartAsync(context.RequestAborted);
    }

    public Task WriteAsync(JsonNode data) => WriteRawAsync(JsonResponses.Serialize(data));

    public Task DoneAsync() => WriteRawAsync("[DONE]");

    private async Task WriteRawAsync(string data)
    {
        await _response.WriteAsync("data: " + data + "\n\n", Encoding.UTF8, context.RequestAborted);
        await _response.Body.FlushAsync(context.RequestAborted);
    }
}
