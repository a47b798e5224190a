namespace Engine.Core.Hub;

/// <summary>
/// Decides whether a snapshot folder holds a usable model: <c>config.json</c> and every weight file
/// (<c>model.safetensors</c>, or the index and each shard it names), each present and readable through
/// its symlink. Anything less counts as absent, so an interrupted download never looks complete.
/// </summary>
public static class SnapshotInspector
{
    public const string ConfigFileName = "config.json";

    public static bool IsComplete(string folder)
    {
        if (!Directory.Exists(folder) || !HasFile(folder, ConfigFileName)) return false;
        if (HasFile(folder, ShardIndex.SingleFileName)) return true;
        if (!HasFile(folder, ShardIndex.IndexFileName)) return false;
        string index = Path.Combine(folder, ShardIndex.IndexFileName);
        try
        {
            return ShardIndex.ReadShardNames(index).All(shard => HasFile(folder, shard));
        }
        catch (EngineException)
        {
            return false;
        }
    }

    /// <summary>The GGUF files present in a snapshot (links that resolve), as repo paths with '/', in ordinal order; empty when there is no snapshot.</summary>
    public static IReadOnlyList<string> CachedGgufFiles(string folder) =>
        !Directory.Exists(folder)
            ? []
            : Directory.EnumerateFiles(folder, "*.gguf", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(folder, f).Replace(Path.DirectorySeparatorChar, '/'))
                .Where(f => HasFile(folder, f))
                .Order(StringComparer.Ordinal)
                .ToList();

    /// <summary>True when the file exists and, if it is a symlink, its final target exists too (no dangling links).</summary>
    public static bool HasFile(string folder, string relativePath)
    {
        var file = new FileInfo(Path.Combine(folder, relativePath));
        if (!file.Exists) return false;
        if (file.LinkTarget is null) return true;
        return file.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true } target && target is FileInfo;
    }
}
