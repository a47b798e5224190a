using System.Text.Json;

namespace Engine.Core.Hub;

/// <summary>The shard files that <c>model.safetensors.index.json</c> names in its <c>weight_map</c>.</summary>
public static class ShardIndex
{
    public const string IndexFileName = "model.safetensors.index.json";
    public const string SingleFileName = "model.safetensors";

    /// <summary>The distinct shard names, in first-mention order; an <see cref="EngineException"/> when malformed.</summary>
    public static IReadOnlyList<string> ReadShardNames(string indexPath)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new EngineException($"{indexPath}: no weight_map object");
            var shards = new List<string>();
            foreach (var entry in map.EnumerateObject())
            {
                string shard = entry.Value.GetString() ?? throw new EngineException($"{indexPath}: weight_map entry '{entry.Name}' is not a file name");
                if (!RepoFilePath.IsSafe(shard)) throw new EngineException($"{indexPath}: shard name '{shard}' escapes the model folder");
                if (!shards.Contains(shard)) shards.Add(shard);
            }
            if (shards.Count == 0) throw new EngineException($"{indexPath}: weight_map names no shard");
            return shards;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new EngineException($"{indexPath}: malformed index ({e.Message})");
        }
    }
}
