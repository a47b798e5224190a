namespace Engine.Core.Hub;

/// <summary>
/// Turns a <c>--model</c> argument (a registry name, an org/name repo id, or a local folder) into the folder
/// holding the model's files, reading hub models in place from the Hugging Face cache (a reference with a quant tag
/// pulls its one GGUF file when it is not cached yet; anything else is fetched by <c>engine pull</c>).
/// </summary>
public static class ModelLocator
{
    /// <summary>The folder of the model; an <see cref="EngineException"/> saying where it looked when absent.</summary>
    public static string ResolveFolder(string model) => Resolve(model).Folder;

    /// <summary>The model with what is known about it, using the process's hub environment and models.json.</summary>
    public static ResolvedModel Resolve(string model) => Resolve(model, HubEnvironment.Current, () => ModelRegistry.Default);

    public static ResolvedModel Resolve(string model, HubEnvironment environment, Func<ModelRegistry> registry)
    {
        var reference = ModelReference.Parse(model, registry);
        if (reference.Folder is not null) return new ResolvedModel(reference.Folder, null, null, null, null);
        var cache = new HubCacheLayout(environment.CacheRoot);
        var found = FindInCache(reference, cache);
        if (found is null && reference.QuantTag is not null && !environment.Offline)
        {
            // A quant tag names one GGUF file on the hub: like llama.cpp's -hf, it is pulled on first use.
            new ModelPuller(environment, QuantTagPullProgress ?? new SilentPullProgress())
                .PullAsync(reference, CancellationToken.None).GetAwaiter().GetResult();
            found = FindInCache(reference, cache);
        }
        return found ?? throw NotPresent(reference, cache);
    }

    private static readonly AsyncLocal<IPullProgress?> PullProgress = new();

    /// <summary>Where the pull that a <c>--model org/name:TAG</c> starts reports its progress (the CLI sets stderr); silent when unset.</summary>
    public static IPullProgress? QuantTagPullProgress
    {
        get => PullProgress.Value;
        set => PullProgress.Value = value;
    }

    /// <summary>
    /// The complete cached snapshot of a hub reference, or null when absent or incomplete. For a quant tag, or a
    /// snapshot of GGUF files without config.json, the model is the GGUF file the tag picks among those downloaded.
    /// </summary>
    public static ResolvedModel? FindInCache(ModelReference reference, HubCacheLayout cache)
    {
        string repo = reference.RepoId ?? throw new ArgumentException("not a hub reference", nameof(reference));
        string? commit = cache.ReadCommit(repo, reference.Revision);
        if (commit is null) return null;
        string folder = cache.SnapshotFolder(repo, commit);
        if (reference.QuantTag is null && SnapshotInspector.IsComplete(folder))
            return new ResolvedModel(folder, repo, reference.Revision, commit, reference.Entry);
        string? gguf = SnapshotInspector.CachedGgufFiles(folder) is { Count: > 0 } files
            ? GgufFileChoice.Pick(files, reference.QuantTag, $"{repo}@{commit[..12]}")
            : null;
        return gguf is null ? null : new ResolvedModel(Path.Combine([folder, .. gguf.Split('/')]), repo, reference.Revision, commit, reference.Entry);
    }

    private static EngineException NotPresent(ModelReference reference, HubCacheLayout cache)
    {
        string repo = reference.RepoId!;
        string commit = cache.ReadCommit(repo, reference.Revision) ?? "";
        bool snapshot = commit.Length > 0 && Directory.Exists(cache.SnapshotFolder(repo, commit));
        string state = reference.QuantTag is { } tag
            ? $"has no downloaded GGUF file for quant tag '{tag}'"
            : snapshot ? "is only partly downloaded (config.json or a weight file is missing)" : "is not downloaded";
        string named = reference.Entry is not null ? $"'{reference.Entry.Name}' ({repo}@{reference.Revision})" : $"'{repo}@{reference.Revision}'";
        return new EngineException(
            $"model {named} {state}: looked in {cache.RepoFolder(repo)} (the cache comes from HF_HUB_CACHE or HF_HOME); get it with: engine pull {reference.PullName}");
    }
}
