using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Api;

/// <summary>
/// Server-sent events as OpenAI streams them: `data: {json}` per event, `data: [DONE]` at the end. Each
/// event is serialized straight into the response's pipe (no intermediate string) and flushed at once,
/// so a token reaches the client as soon as the engine delivers it.
/// </summary>
public sealed class SseWriter(HttpContext context)
{
    private readonly HttpResponse _response = context.Response;
    private Utf8JsonWriter? _json;

    public async Task StartAsync()
    {
        _response.StatusCode = 200;
        _response.ContentType = "text/event-stream; charset=utf-8";
        _response.Headers.CacheControl = "no-cache";
        _response.Headers["X-Accel-Buffering"] = "no";
        await _response.StartAsync(context.RequestAborted);
    }

    public Task WriteAsync(JsonNode data)
    {
        var body = _response.BodyWriter;
        body.Write("data: "u8);
        // One writer per stream, pointed at the pipe again for each event (the pipe hands out fresh buffers).
        if (_json is null) _json = new Utf8JsonWriter(body, new JsonWriterOptions { Encoder = JsonResponses.Options.Encoder, SkipValidation = true });
        else _json.Reset(body);
        data.WriteTo(_json, JsonResponses.Options);
        _json.Flush();
        body.Write("\n\n"u8);
        return FlushAsync();
    }

    public Task DoneAsync()
    {
        _response.BodyWriter.Write("data: [DONE]\n\n"u8);
        return FlushAsync();
    }

    private async Task FlushAsync() => await _response.BodyWriter.FlushAsync(context.RequestAborted);
}
