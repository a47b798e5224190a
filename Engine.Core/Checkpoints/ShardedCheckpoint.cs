using System.Text.Json;

namespace Engine.Core.Checkpoints;

/// <summary>
/// A checkpoint split over several safetensors shards, listed by <c>model.safetensors.index.json</c>
/// (its <c>weight_map</c>: tensor name to shard file). Every shard is opened and validated up front;
/// every tensor the index names must be in the shard it names. Tensors a shard holds that the index
/// does not name are not exposed, as transformers does not load them either.
/// </summary>
public sealed class ShardedCheckpoint : ICheckpoint
{
    public const string IndexFileName = "model.safetensors.index.json";

    private readonly IReadOnlyList<SafetensorsFile> _shards;
    private readonly Dictionary<string, SafetensorsFile> _owner;
    private bool _disposed;

    private ShardedCheckpoint(string indexPath, IReadOnlyList<SafetensorsFile> shards, Dictionary<string, SafetensorsFile> owner)
    {
        IndexPath = indexPath;
        _shards = shards;
        _owner = owner;
        TensorNames = owner.Keys.ToList();
    }

    public string IndexPath { get; }

    /// <summary>The shard files' full paths, in the order the index first names them.</summary>
    public IReadOnlyList<string> ShardPaths => _shards.Select(s => s.Path).ToList();

    public IReadOnlyCollection<string> TensorNames { get; }

    public static ShardedCheckpoint Open(string indexPath)
    {
        indexPath = Path.GetFullPath(indexPath);
        var weightMap = ReadWeightMap(indexPath);
        string folder = Path.GetDirectoryName(indexPath)!;

        var shardFiles = weightMap.Select(kv => kv.Value).Distinct(StringComparer.Ordinal).ToList();
        foreach (string shard in shardFiles)
            if (!File.Exists(Path.Combine(folder, shard)))
                throw new EngineException($"{indexPath}: shard {shard} named by the index is missing from {folder}");

        var opened = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (string shard in shardFiles)
                opened[shard] = SafetensorsFile.Open(Path.Combine(folder, shard));
            var owner = new Dictionary<string, SafetensorsFile>(weightMap.Count, StringComparer.Ordinal);
            foreach (var (tensor, shard) in weightMap)
            {
                var file = opened[shard];
                if (!file.TryGet(tensor, out _))
                    throw new EngineException($"{indexPath}: the index puts tensor '{tensor}' in {shard}, but that shard does not contain it");
                owner[tensor] = file;
            }
            return new ShardedCheckpoint(indexPath, opened.Values.ToList(), owner);
        }
        catch
        {
            foreach (var file in opened.Values) file.Dispose();
            throw;
        }
    }

    public bool TryGet(string name, out TensorView tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_owner.TryGetValue(name, out var file)) return file.TryGet(name, out tensor);
        tensor = default;
        return false;
    }

    public TensorView Get(string name) =>
        TryGet(name, out var tensor) ? tensor : throw new EngineException($"tensor '{name}' not found in the checkpoint indexed by {IndexPath}");

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var shard in _shards) shard.Dispose();
    }

    /// <summary>The index's tensor-to-shard map, checked to be well-formed and to name only plain file names.</summary>
    private static List<KeyValuePair<string, string>> ReadWeightMap(string indexPath)
    {
        if (!File.Exists(indexPath)) throw new EngineException($"checkpoint index {indexPath} not found");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(indexPath));
        }
        catch (JsonException e)
        {
            throw new EngineException($"{indexPath}: not valid JSON: {e.Message.ReplaceLineEndings(" ").Trim()}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new EngineException($"{indexPath}: no \"weight_map\" object");
            var result = new List<KeyValuePair<string, string>>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (!seen.Add(entry.Name))
                    throw new EngineException($"{indexPath}: tensor '{entry.Name}' is listed more than once in weight_map");
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new EngineException($"{indexPath}: weight_map entry for tensor '{entry.Name}' is not a file name");
                string shard = entry.Value.GetString()!;
                // Shards live beside the index: a path could point anywhere on disk.
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new EngineException($"{indexPath}: weight_map puts tensor '{entry.Name}' in '{shard}', which is not a plain file name");
                result.Add(new(entry.Name, shard));
            }
            if (result.Count == 0) throw new EngineException($"{indexPath}: weight_map is empty");
            return result;
        }
    }
}
