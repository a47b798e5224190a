using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Hosting;

/// <summary>The web chat page: files under wwwroot/ embedded in this assembly, served as they are.</summary>
public static class EmbeddedPage
{
    private static readonly ConcurrentDictionary<string, byte[]?> Cache = new(StringComparer.Ordinal);

    public static byte[]? Read(string name) => Cache.GetOrAdd(name, n =>
    {
        using var stream = typeof(EmbeddedPage).Assembly.GetManifestResourceStream("wwwroot/" + n);
        if (stream is null) return null;
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    });

    public static async Task ServeAsync(HttpContext context, string name)
    {
        if (name.Contains("..", StringComparison.Ordinal) || Read(name) is not { } bytes)
        {
            context.Response.StatusCode = 404;
            return;
        }
        context.Response.ContentType = Path.GetExtension(name) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => "application/octet-stream",
        };
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }
}
