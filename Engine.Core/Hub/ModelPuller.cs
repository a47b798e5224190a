namespace Engine.Core.Hub;

/// <summary>
/// <c>engine pull</c>: downloads what a model needs from the hub into the Hugging Face cache layout, so Python
/// tools and the engine share it. It first asks the hub about every needed file (the small shard index is
/// fetched on the way, to learn the shards), checks the disk has room, then downloads. Order matters for
/// atomicity: every blob is verified first, then linked into <c>snapshots/&lt;commit&gt;/</c> (config.json last), and
/// the ref is written at the very end, so an interrupted or failed pull never leaves a snapshot that looks complete.
/// </summary>
/// <param name="silenceTimeout">How long the hub may stay silent (no answer, no bytes) before a request fails; 60 s by default.</param>
public sealed class ModelPuller(HubEnvironment environment, IPullProgress progress, TimeSpan? silenceTimeout = null)
{
    public async Task<PullResult> PullAsync(ModelReference reference, CancellationToken cancel)
    {
        string repo = reference.RepoId
            ?? throw new EngineException($"engine pull takes a registry name or an org/name repo id, not a folder ('{reference.Argument}')");
        var cache = new HubCacheLayout(environment.CacheRoot);
        if (environment.Offline) return FromCacheOffline(reference, cache, repo);

        using var client = new HubClient(environment, silenceTimeout);
        var downloader = new BlobDownloader(client, cache, progress, silenceTimeout);
        var revision = await client.GetRevisionAsync(repo, reference.Revision, cancel);
        string commit = revision.Commit;
        string snapshot = cache.SnapshotFolder(repo, commit);
        var available = new HashSet<string>(revision.Files, StringComparer.Ordinal);
        var files = new List<string>(NeededFiles.Select(revision, reference.QuantTag));
        // A GGUF pull is one file, which is the model (a snapshot may hold several quantizations).
        string model = GgufFileChoice.IsModelFile(files[0]) ? Path.Combine([snapshot, .. files[0].Split('/')]) : snapshot;
        var toLink = new List<HubFileMetadata>();
        var toDownload = new List<HubFileMetadata>();
        int downloaded = 0;
        long bytes = 0;

        for (int i = 0; i < files.Count; i++)
        {
            string file = files[i];
            if (SnapshotInspector.HasFile(snapshot, file))
            {
                progress.FileCached(file);
                if (file == ShardIndex.IndexFileName) AddShards(Path.Combine(snapshot, file), available, files, repo);
                continue;
            }
            var metadata = await client.GetFileMetadataAsync(repo, commit, file, cancel);
            toLink.Add(metadata);
            string blob = cache.BlobPath(repo, metadata.Etag);
            if (File.Exists(blob)) progress.FileCached(file);
            else if (file == ShardIndex.IndexFileName)
            {
                // Needed now to learn the shards; it is small.
                bytes += await downloader.DownloadAsync(repo, metadata, cancel);
                downloaded++;
            }
            else toDownload.Add(metadata);
            if (file == ShardIndex.IndexFileName) AddShards(blob, available, files, repo);
        }

        EnsureRoom(cache, repo, toDownload);
        foreach (var metadata in toDownload)
        {
            bytes += await downloader.DownloadAsync(repo, metadata, cancel);
            downloaded++;
        }

        // config.json is linked last: until then the snapshot does not count as complete.
        foreach (var metadata in toLink.OrderBy(f => f.File == SnapshotInspector.ConfigFileName ? 1 : 0))
            SnapshotLinker.Link(cache, repo, commit, metadata.File, metadata.Etag);
        cache.WriteRef(repo, reference.Revision, commit);
        return new PullResult(model, repo, commit, downloaded, bytes, AlreadyPresent: downloaded == 0);
    }

    private static void EnsureRoom(HubCacheLayout cache, string repo, List<HubFileMetadata> toDownload)
    {
        long needed = 0;
        foreach (var file in toDownload)
        {
            var partial = new FileInfo(cache.IncompleteBlobPath(repo, file.Etag));
            needed += Math.Max(0, (file.Size ?? 0) - (partial.Exists ? partial.Length : 0));
        }
        Directory.CreateDirectory(cache.RepoFolder(repo));
        if (FreeSpace.Available(cache.RepoFolder(repo)) is { } free && free < needed)
            throw new EngineException(
                $"not enough disk space in {cache.CacheRoot}: the download needs {needed / 1e9:0.00} GB, {free / 1e9:0.00} GB are free (set HF_HUB_CACHE or HF_HOME to a bigger disk)");
    }

    private static PullResult FromCacheOffline(ModelReference reference, HubCacheLayout cache, string repo)
    {
        var found = ModelLocator.FindInCache(reference, cache)
            ?? throw new EngineException(
                $"HF_HUB_OFFLINE is set and {repo}{(reference.QuantTag is { } tag ? ":" + tag : "")}@{reference.Revision} is not in the cache (looked in {cache.RepoFolder(repo)}); unset HF_HUB_OFFLINE to download it");
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
