using NUnit.Framework;

namespace Engine.Tests.Support;

/// <summary>
/// Locates ../shared/assets (beside the repository). Tests that need it call <see cref="Require"/>,
/// which skips the test with a clear message when the folder is absent.
/// </summary>
public static class SharedAssets
{
    public static string? Root { get; } = Find();

    public static string Require(params string[] relative)
    {
        if (Root is null)
            Assert.Ignore("../shared/assets not found beside the repository: this test needs the shared test assets");
        string path = Path.Combine([Root!, .. relative]);
        if (!File.Exists(path) && !Directory.Exists(path))
            Assert.Ignore($"shared asset {path} not found");
        return path;
    }

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln")))
            {
                string candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "assets"));
                return Directory.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }

    /// <summary>The repository root (the folder holding Engine.sln).</summary>
    public static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
            throw new InvalidOperationException("Engine.sln not found above the test binaries");
        }
    }
}
