using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Models.Kv;

namespace Engine.Server.Api;

/// <summary>
/// The KV-cache policy of one request: a policy name and, for every policy but full, the LagKV budget
/// (ratio, lag and sink sizes, skipped layers, mode). Each request gets a fresh policy object.
/// </summary>
public sealed record KvPolicyRequest(string Name, LagKvOptions? LagKv)
{
    public static KvPolicyRequest Full { get; } = new("full", null);

    /// <summary>A new policy for a model with <paramref name="layerCount"/> layers; null for full. Bad settings are a 400 on kv_policy.</summary>
    public IKvCachePolicy? Create(int layerCount)
    {
        if (Name == "full") return null;
        try
        {
            return KvPolicyFactory.Create(Name, LagKv!, layerCount);
        }
        catch (EngineException e)
        {
            throw ApiException.BadRequest($"kv_policy: {e.Message}", "kv_policy");
        }
    }

    /// <summary>
    /// Reads the `kv_policy` extension object: {"policy": "lagkv", "ratio": "8x", "lag_size": 128,
    /// "sink_size": 16, "mode": "reference", "skip_layers": "0,1"}. Null when the request has none.
    /// </summary>
    public static KvPolicyRequest? Parse(JsonObject request)
    {
        var o = JsonFields.Object(request, "kv_policy");
        if (o is null) return null;
        foreach (var (key, _) in o)
            if (key is not ("policy" or "ratio" or "lag_size" or "sink_size" or "mode" or "skip_layers"))
                throw ApiException.BadRequest($"kv_policy: unknown field '{key}' (expected policy, ratio, lag_size, sink_size, mode, skip_layers)", $"kv_policy.{key}");
        string? ratio = o["ratio"] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => "r=" + v.GetValue<double>().ToString(CultureInfo.InvariantCulture),
            _ => JsonFields.String(o, "ratio", "kv_policy.ratio"),
        };
        string name = (JsonFields.String(o, "policy", "kv_policy.policy") ?? (ratio is null ? "full" : "lagkv")).Trim().ToLowerInvariant();
        if (name is not ("full" or "lagkv" or "streaming" or "snapkv" or "h2o"))
            throw ApiException.BadRequest($"kv_policy.policy '{name}' is not one of {KvPolicyFactory.Choices}", "kv_policy.policy");
        if (name == "full") return Full;
        if (ratio is null) throw ApiException.BadRequest($"kv_policy: policy {name} needs a budget: give \"ratio\" (e.g. \"8x\" or 0.25)", "kv_policy.ratio");
        try
        {
            string? mode = JsonFields.String(o, "mode", "kv_policy.mode");
            var skip = o["skip_layers"] switch
            {
                null => new HashSet<int>(),
                JsonArray a => a.Select(n => n is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<int>() : throw JsonFields.Wrong("kv_policy.skip_layers", "layer numbers")).ToHashSet(),
                _ => LagKvText.ParseSkipLayers(JsonFields.String(o, "skip_layers", "kv_policy.skip_layers"), "skip_layers"),
            };
            return new KvPolicyRequest(name, new LagKvOptions
            {
                Retention = LagKvText.ParseRetention(ratio, "ratio"),
                LagSize = JsonFields.Int(o, "lag_size", "kv_policy.lag_size") ?? LagKvOptions.DefaultLagSize,
                SinkSize = JsonFields.Int(o, "sink_size", "kv_policy.sink_size") ?? LagKvOptions.DefaultSinkSize,
                SkipLayers = skip,
                Mode = mode is null ? LagKvMode.Reference : LagKvText.ParseMode(mode, "mode"),
            });
        }
        catch (EngineException e)
        {
            throw ApiException.BadRequest($"kv_policy: {e.Message}", "kv_policy");
        }
    }
}
