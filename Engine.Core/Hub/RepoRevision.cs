namespace Engine.Core.Hub;

/// <summary>A repo at one revision, as the hub's model-info API reports it: the commit hash and the file list.</summary>
public sealed record RepoRevision(string RepoId, string Commit, IReadOnlyList<string> Files);
