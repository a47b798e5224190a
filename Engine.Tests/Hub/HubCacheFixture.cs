using System.Security.Cryptography;
using Engine.Core.Hub;

namespace Engine.Tests.Hub;

/// <summary>Builds a cache by hand the way huggingface_hub writes it (blobs by ETag, relative symlinks, refs), for resolver tests.</summary>
internal sealed class HubCacheFixture(string cacheRoot)
{
    public HubCacheLayout Layout { get; } = new(cacheRoot);

    public static string NewCommit() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));

    /// <summary>Stores <paramref name="content"/> as a blob and links it into the snapshot of <paramref name="commit"/>.</summary>
    public void AddFile(string repo, string commit, string file, byte[] content)
    {
        string etag = Convert.ToHexStringLower(SHA256.HashData(content));
        Directory.CreateDirectory(Layout.BlobsFolder(repo));
        File.WriteAllBytes(Layout.BlobPath(repo, etag), content);
        string link = Path.Combine([Layout.SnapshotFolder(repo, commit), .. file.Split('/')]);
        Directory.CreateDirectory(Path.GetDirectoryName(link)!);
        File.CreateSymbolicLink(link, Path.GetRelativePath(Path.GetDirectoryName(link)!, Layout.BlobPath(repo, etag)));
    }

    public void AddRef(string repo, string revision, string commit) => Layout.WriteRef(repo, revision, commit);

    /// <summary>A complete single-file model: config.json and model.safetensors (random bytes; only presence matters here).</summary>
    public string AddCompleteModel(string repo, string revision = "main")
    {
        string commit = NewCommit();
        AddFile(repo, commit, "config.json", "{\"model_type\":\"qwen2\"}"u8.ToArray());
        AddFile(repo, commit, "model.safetensors", RandomNumberGenerator.GetBytes(256));
        AddRef(repo, revision, commit);
        return commit;
    }
}
