using Engine.Core.Config;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>Decides whether a model path is a GGUF model: a .gguf file, or a folder without config.json holding one.</summary>
public static class GgufModelPath
{
    /// <summary>
    /// The GGUF file <paramref name="path"/> stands for: the path itself when it is a .gguf file; the only
    /// .gguf file of a folder without config.json; else null. A folder holding several is an error
    /// asking for one of them.
    /// </summary>
    public static string? Find(string path)
    {
        if (File.Exists(path)) return GgufFile.IsGgufPath(path) ? Path.GetFullPath(path) : null;
        if (!Directory.Exists(path) || File.Exists(Path.Combine(path, ModelConfigLoader.FileName))) return null;
        var candidates = Directory.GetFiles(path, "*" + GgufFile.Extension).Order(StringComparer.Ordinal).ToArray();
        return candidates.Length switch
        {
            0 => null,
            1 => Path.GetFullPath(candidates[0]),
            _ => throw new EngineException(
                $"{Path.GetFullPath(path)} holds {candidates.Length} GGUF files ({string.Join(", ", candidates.Select(Path.GetFileName))}); pass one of them as --model"),
        };
    }
}
