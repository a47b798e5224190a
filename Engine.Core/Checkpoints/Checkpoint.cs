using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Checkpoints;

/// <summary>Opens a model's weights: a GGUF file (or a folder holding one), else a folder's sharded or single safetensors checkpoint.</summary>
public static class Checkpoint
{
    public const string SingleFileName = "model.safetensors";

    /// <summary>The validated checkpoint in <paramref name="folder"/>; an <see cref="EngineException"/> when there is none or it is malformed.</summary>
    public static ICheckpoint Open(string folder)
    {
        if (GgufModelPath.Find(folder) is string gguf) return GgufCheckpoint.Open(gguf);
        string file = FindEntryFile(folder);
        return Path.GetFileName(file) == ShardedCheckpoint.IndexFileName ? ShardedCheckpoint.Open(file) : SafetensorsFile.Open(file);
    }

    /// <summary>
    /// The file that defines the checkpoint in <paramref name="folder"/>: the index if present, else
    /// <c>model.safetensors</c>, else the folder's only <c>*.safetensors</c> file.
    /// </summary>
    public static string FindEntryFile(string folder)
    {
        if (!Directory.Exists(folder)) throw new EngineException($"model folder {folder} not found");
        folder = Path.GetFullPath(folder);
        string index = Path.Combine(folder, ShardedCheckpoint.IndexFileName);
        if (File.Exists(index)) return index;
        string single = Path.Combine(folder, SingleFileName);
        if (File.Exists(single)) return single;
        var candidates = Directory.GetFiles(folder, "*.safetensors");
        return candidates.Length switch
        {
            1 => candidates[0],
            0 => throw new EngineException($"no {SingleFileName} or {ShardedCheckpoint.IndexFileName} in {folder}"),
            _ => throw new EngineException(
                $"{folder} holds {candidates.Length} .safetensors files but no {ShardedCheckpoint.IndexFileName} saying how they fit together"),
        };
    }
}
