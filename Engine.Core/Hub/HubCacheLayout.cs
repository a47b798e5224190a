using System.Text.RegularExpressions;

namespace Engine.Core.Hub;

/// <summary>
/// The paths of huggingface_hub's cache: <c>models--org--name/</c> holding <c>refs/&lt;revision&gt;</c> (a
/// commit hash), <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> (symlinks) and <c>blobs/&lt;etag&gt;</c> (the bytes).
/// </summary>
public sealed partial class HubCacheLayout(string cacheRoot)
{
    public string CacheRoot { get; } = cacheRoot;

    /// <summary>A repo id's folder name: <c>Qwen/Qwen2.5-0.5B-Instruct</c> becomes <c>models--Qwen--Qwen2.5-0.5B-Instruct</c>.</summary>
    public static string RepoFolderName(string repoId) => "models--" + repoId.Replace("/", "--", StringComparison.Ordinal);

    public string RepoFolder(string repoId) => Path.Combine(CacheRoot, RepoFolderName(repoId));

    public string BlobsFolder(string repoId) => Path.Combine(RepoFolder(repoId), "blobs");

    public string BlobPath(string repoId, string etag) => Path.Combine(BlobsFolder(repoId), etag);

    /// <summary>Where a blob grows while it downloads (huggingface_hub's name, so either tool can resume it).</summary>
    public string IncompleteBlobPath(string repoId, string etag) => BlobPath(repoId, etag) + ".incomplete";

    public string SnapshotFolder(string repoId, string commit) => Path.Combine(RepoFolder(repoId), "snapshots", commit);

    /// <summary>The ref file of a branch or tag; names with slashes (e.g. <c>refs/pr/1</c>) nest as folders.</summary>
    public string RefPath(string repoId, string revision) =>
        Path.Combine([RepoFolder(repoId), "refs", .. revision.Split('/')]);

    /// <summary>True for a full 40-hex commit hash, which names a snapshot directly.</summary>
    public static bool IsCommitHash(string revision) => CommitHash().IsMatch(revision);

    /// <summary>The commit a revision points to locally: itself when a hash, else the ref file's content.</summary>
    public string? ReadCommit(string repoId, string revision)
    {
        if (IsCommitHash(revision)) return revision;
        string refPath = RefPath(repoId, revision);
        if (!File.Exists(refPath)) return null;
        string commit = File.ReadAllText(refPath).Trim();
        return IsCommitHash(commit) ? commit : null;
    }

    /// <summary>Points a ref at a commit; written via a temporary file and a rename so readers never see half a hash.</summary>
    public void WriteRef(string repoId, string revision, string commit)
    {
        if (IsCommitHash(revision)) return;
        string refPath = RefPath(repoId, revision);
        Directory.CreateDirectory(Path.GetDirectoryName(refPath)!);
        string temporary = refPath + ".tmp";
        File.WriteAllText(temporary, commit);
        File.Move(temporary, refPath, overwrite: true);
    }

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitHash();
}
