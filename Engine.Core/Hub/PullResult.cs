namespace Engine.Core.Hub;

/// <summary>The outcome of a pull: where the snapshot is, which commit, and how much was fetched (0 when all was cached).</summary>
public sealed record PullResult(string Folder, string RepoId, string Commit, int FilesDownloaded, long BytesDownloaded, bool AlreadyPresent);
