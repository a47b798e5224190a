using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Engine.Server.Api;

/// <summary>GET /v1/models: the one served model; and the check that a request names it.</summary>
public static class ModelsEndpoint
{
    private static readonly long Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static Task HandleAsync(HttpContext context, EngineGateway gateway)
    {
        var engine = gateway.Engine;
        var model = new JsonObject
        {
            ["id"] = gateway.Options.ModelId,
            ["object"] = "model",
            ["created"] = Created,
            ["owned_by"] = "engine",
            ["max_model_len"] = engine.ContextLimit,
        };
        return JsonResponses.WriteAsync(context, new JsonObject { ["object"] = "list", ["data"] = new JsonArray(model) });
    }

    /// <summary>A request for another model is a 404; no model named means the served one.</summary>
    public static void Check(EngineGateway gateway, string? model)
    {
        if (model is null || model.Length == 0 || model == gateway.Options.ModelId || model == gateway.Options.Model) return;
        throw new ApiException(404, $"the model '{model}' does not exist; this server serves '{gateway.Options.ModelId}'", "model", "model_not_found");
    }
}
