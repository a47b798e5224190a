using System.Text.Json.Nodes;
using Engine.Cli.Options;
using Engine.Core.Kv.LagKv;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Cli.Formatting;

/// <summary>The `--json` "kv_policy" object: the policy, its parameters, per-layer lengths, achieved compression, bytes saved.</summary>
public static class KvPolicyJson
{
    /// <param name="choice">The resolved policy.</param>
    /// <param name="stats">The request's statistics (their per-layer logical and physical lengths).</param>
    /// <param name="bytesPerSlot">KV bytes of one slot of one layer: keys and values of every KV head.</param>
    public static JsonObject Build(KvPolicyChoice choice, GenerationStats stats, long bytesPerSlot)
    {
        long logical = stats.Layers.Sum(l => (long)l.LogicalLength);
        long physical = stats.Layers.Sum(l => (long)l.PhysicalLength);
        var result = new JsonObject
        {
            ["policy"] = choice.Name,
            // Tokens seen per slot held, over all layers: the achieved ratio, not the nominal per-partition one.
            ["compression_ratio"] = physical == 0 ? 1.0 : Math.Round((double)logical / physical, 4),
            ["kv_bytes_saved"] = (logical - physical) * bytesPerSlot,
        };
        if (choice.LagKv is not null) result["lagkv"] = choice.LagKv.ToJson();
        var layers = new JsonArray();
        bool lagKv = choice.Policy?.Name == "lagkv" && choice.LagKv is not null;
        for (int i = 0; i < stats.Layers.Count; i++)
        {
            var length = stats.Layers[i];
            var layer = new JsonObject
            {
                ["layer"] = i,
                ["logical_len"] = length.LogicalLength,
                ["physical_len"] = length.PhysicalLength,
            };
            if (lagKv)
            {
                layer["skipped"] = !choice.LagKv!.Compresses(i);
                layer["compressions"] = i < stats.KvPolicyLayers.Count ? stats.KvPolicyLayers[i].Compressions : 0;
                layer["compression_ratio"] = length.PhysicalLength == 0 ? 1.0 : Math.Round((double)length.LogicalLength / length.PhysicalLength, 4);
            }
            layers.Add(layer);
        }
        result["layers"] = layers;
        return result;
    }
}
