namespace Engine.Core.Hub;

/// <summary>
/// <c>engine pull</c>: downloads what a model needs from the hub into the Hugging Face cache layout, so Python
/// tools and the engine share it. Order matters for atomicity: every blob is verified first, then linked into
/// <c>snapshots/&lt;commit&gt;/</c> (config.json last), and the ref is written at the very end, so an interrupted
/// or failed pull never leaves a snapshot that looks complete.
/// </summary>
public sealed class ModelPuller(HubEnvironment environment, IPullProgress progress, TimeSpan? stallTimeout = null)
{
    public async Task<PullResult> PullAsync(ModelReference reference, CancellationToken cancel)
    {
        string repo = reference.RepoId
            ?? throw new EngineException($"engine pull takes a registry name or an org/name repo id, not a folder ('{reference.Argument}')");
        var cache = new HubCacheLayout(environment.CacheRoot);
        if (environment.Offline) return FromCacheOffline(reference, cache, repo);

        using var client = new HubClient(environment);
        var downloader = new BlobDownloader(client, cache, progress, stallTimeout);
        var revision = await client.GetRevisionAsync(repo, reference.Revision, cancel);
        string commit = revision.Commit;
        string snapshot = cache.SnapshotFolder(repo, commit);
        var available = new HashSet<string>(revision.Files, StringComparer.Ordinal);
        var files = new List<string>(NeededFiles.Select(revision));
        var toLink = new List<(string File, string Etag)>();
        int downloaded = 0;
        long bytes = 0;

        for (int i = 0; i < files.Count; i++)
        {
            string file = files[i];
            string local;
            if (SnapshotInspector.HasFile(snapshot, file))
            {
                progress.FileCached(file);
                local = Path.Combine(snapshot, file);
            }
            else
            {
                var metadata = await client.GetFileMetadataAsync(repo, commit, file, cancel);
                local = cache.BlobPath(repo, metadata.Etag);
                if (File.Exists(local))
                {
                    progress.FileCached(file);
                }
                else
                {
                    bytes += await downloader.DownloadAsync(repo, metadata, cancel);
                    downloaded++;
                }
                toLink.Add((file, metadata.Etag));
            }
            if (file == ShardIndex.IndexFileName) AddShards(local, available, files, repo);
        }

        // config.json is linked last: until then the snapshot does not count as complete.
        foreach (var (file, etag) in toLink.OrderBy(f => f.File == SnapshotInspector.ConfigFileName ? 1 : 0))
            SnapshotLinker.Link(cache, repo, commit, file, etag);
        cache.WriteRef(repo, reference.Revision, commit);
        return new PullResult(snapshot, repo, commit, downloaded, bytes, AlreadyPresent: downloaded == 0);
    }

    private static PullResult FromCacheOffline(ModelReference reference, HubCacheLayout cache, string repo)
    {
        var found = ModelLocator.FindInCache(reference, cache)
            ?? throw new EngineException(
                $"HF_HUB_OFFLINE is set and {repo}@{reference.Revision} is not in the cache (looked in {cache.RepoFolder(repo)}); unset HF_HUB_OFFLINE to download it");
        return new PullResult(found.Folder, repo, found.Commit!, 0, 0, AlreadyPresent: true);
    }

    private static void AddShards(string indexPath, HashSet<string> available, List<string> files, string repo)
    {
        foreach (string shard in ShardIndex.ReadShardNames(indexPath))
        {
            if (!available.Contains(shard)) throw new EngineException($"{repo}: {ShardIndex.IndexFileName} names shard '{shard}', which the repo does not have");
            if (!files.Contains(shard)) files.Add(shard);
        }
    }
}
