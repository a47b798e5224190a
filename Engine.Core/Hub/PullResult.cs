namespace Engine.Core.Hub;

/// <summary>The outcome of a pull: the model's path (the snapshot folder, or the GGUF file in it), which commit, and how much was fetched (0 when all was cached).</summary>
public sealed record PullResult(string Folder, string RepoId, string Commit, int FilesDownloaded, long BytesDownloaded, bool AlreadyPresent);
