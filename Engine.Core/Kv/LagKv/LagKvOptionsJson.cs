using System.Text.Json.Nodes;

namespace Engine.Core.Kv.LagKv;

/// <summary>The one JSON form of <see cref="LagKvOptions"/> (snake_case, as every `--json` output), used by `run`, `bench` and `eval`.</summary>
public static class LagKvOptionsJson
{
    public static JsonObject ToJson(this LagKvOptions o) => new()
    {
        ["retention"] = o.Retention,
        ["lag_size"] = o.LagSize,
        ["sink_size"] = o.SinkSize,
        ["keep_per_partition"] = o.KeepPerPartition,
        ["mode"] = o.Mode.ToString().ToLowerInvariant(),
        ["skip_layers"] = new JsonArray(o.SkipLayers.Order().Select(l => (JsonNode)l).ToArray()),
    };
}
