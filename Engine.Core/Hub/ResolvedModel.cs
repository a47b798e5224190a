namespace Engine.Core.Hub;

/// <summary>
/// A model found on disk: the folder holding config.json and the weights (or a GGUF file), plus, when it came from the
/// hub cache, the repo, revision and commit, and the registry entry when it was named by a registry name.
/// </summary>
public sealed record ResolvedModel(string Folder, string? RepoId, string? Revision, string? Commit, RegistryEntry? Entry);
