namespace Engine.Core.Hub;

/// <summary>Free bytes on the volume holding a path (the mount point with the longest matching prefix), when the OS tells.</summary>
public static class FreeSpace
{
    public static long? Available(string path)
    {
        try
        {
            string full = Path.GetFullPath(path);
            var volume = DriveInfo.GetDrives()
                .Where(d => d.IsReady && Contains(d.RootDirectory.FullName, full))
                .MaxBy(d => d.RootDirectory.FullName.Length);
            return volume?.AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool Contains(string root, string path)
    {
        var comparison = OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        string prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return path.StartsWith(prefix, comparison) || string.Equals(path, root, comparison);
    }
}
