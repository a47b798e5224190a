namespace Engine.Core.Hub;

/// <summary>Checks of file names that come from the hub before they become local paths.</summary>
public static class RepoFilePath
{
    /// <summary>A relative, forward-slash path with no empty, <c>.</c> or <c>..</c> segment (so it cannot leave the snapshot).</summary>
    public static bool IsSafe(string name) =>
        name.Length > 0 && !name.StartsWith('/') && !name.Contains('\\') && !name.Contains(':')
        && name.Split('/').All(segment => segment.Length > 0 && segment != "." && segment != "..");
}
