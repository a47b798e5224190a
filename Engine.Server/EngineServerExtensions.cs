using System.Security.Cryptography;
using System.Text;
using Engine.Models;
using Engine.Server.Api;
using Engine.Server.Hosting;
using Engine.Server.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Engine.Server;

/// <summary>
/// Puts the OpenAI-compatible server into any ASP.NET Core app:
/// <code>
/// builder.Services.AddEngineServer(new ServerOptions { Model = "stories260K" });
/// var app = builder.Build();
/// app.MapEngineServer();
/// </code>
/// </summary>
public static class EngineServerExtensions
{
    /// <summary>Registers the gateway (which starts loading the model at once) and the metrics.</summary>
    /// <param name="load">How the engine is made (default: <see cref="InferenceEngine.Load"/> with the options' model and engine options).</param>
    public static IServiceCollection AddEngineServer(this IServiceCollection services, ServerOptions options, Func<ServerOptions, InferenceEngine>? load = null)
    {
        var metrics = new ServerMetrics();
        services.AddSingleton(metrics);
        services.AddSingleton(new EngineGateway(options, load ?? (o => InferenceEngine.Load(o.Model, o.Engine)), metrics));
        return services;
    }

    /// <summary>Maps the API (with and without /v1), /health, /metrics, /tokenize, /detokenize and the chat page at <paramref name="pagePath"/>.</summary>
    public static IEndpointRouteBuilder MapEngineServer(this IEndpointRouteBuilder endpoints, string pagePath = "/")
    {
        var gateway = endpoints.ServiceProvider.GetRequiredService<EngineGateway>();
        var chat = new GenerationEndpoint(gateway, chat: true);
        var completions = new GenerationEndpoint(gateway, chat: false);
        foreach (string prefix in new[] { "/v1", "" })
        {
            endpoints.MapPost(prefix + "/chat/completions", Guarded(gateway, chat.HandleAsync));
            endpoints.MapPost(prefix + "/completions", Guarded(gateway, completions.HandleAsync));
            endpoints.MapGet(prefix + "/models", Guarded(gateway, c => ModelsEndpoint.HandleAsync(c, gateway)));
        }
        endpoints.MapPost("/tokenize", Guarded(gateway, c => TokenizeEndpoints.TokenizeAsync(c, gateway)));
        endpoints.MapPost("/detokenize", Guarded(gateway, c => TokenizeEndpoints.DetokenizeAsync(c, gateway)));
        endpoints.MapGet("/health", c => HealthAsync(c, gateway));
        endpoints.MapGet("/v1/health", c => HealthAsync(c, gateway));
        endpoints.MapGet("/metrics", async c =>
        {
            c.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await c.Response.WriteAsync(gateway.Metrics.Render(gateway), Encoding.UTF8, c.RequestAborted);
        });
        string page = pagePath.TrimEnd('/');
        endpoints.MapGet(page.Length == 0 ? "/" : page, c => EmbeddedPage.ServeAsync(c, "index.html"));
        endpoints.MapGet(page + "/static/{name}", (HttpContext c, string name) => EmbeddedPage.ServeAsync(c, name));
        return endpoints;
    }

    /// <summary>
    /// /health: 200 {"status": "ok"} when the model is ready; 503 with an OpenAI-shaped error while it
    /// loads, after it failed to load, or once the server is stopping. Never needs the API key.
    /// </summary>
    private static Task HealthAsync(HttpContext context, EngineGateway gateway)
    {
        if (gateway.IsDraining) return ApiErrors.WriteAsync(context, new ApiException(503, "the server is shutting down", code: "shutting_down"));
        if (!gateway.IsReady)
            return ApiErrors.WriteAsync(context, new ApiException(503,
                gateway.LoadError is { } error ? $"the model failed to load: {error}" : "the model is loading", code: "model_not_ready"));
        return JsonResponses.WriteAsync(context, new System.Text.Json.Nodes.JsonObject { ["status"] = "ok", ["model"] = gateway.Options.ModelId });
    }

    /// <summary>Refuses requests while stopping (503) and without the API key (401); turns errors into OpenAI's shape.</summary>
    private static RequestDelegate Guarded(EngineGateway gateway, RequestDelegate handler) => async context =>
    {
        try
        {
            if (gateway.IsDraining) throw new ApiException(503, "the server is shutting down", code: "shutting_down");
            if (gateway.Options.ApiKey is { } key && !Authorized(context, key))
                throw new ApiException(401, "missing or invalid API key: send 'Authorization: Bearer KEY'", code: "invalid_api_key");
            await handler(context);
        }
        catch (ApiException e) when (!context.Response.HasStarted)
        {
            await ApiErrors.WriteAsync(context, e);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { }
    };

    private static bool Authorized(HttpContext context, string key)
    {
        string header = context.Request.Headers.Authorization.ToString();
        const string bearer = "Bearer ";
        if (!header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[bearer.Length..].Trim()), Encoding.UTF8.GetBytes(key));
    }
}
