namespace Engine.Core.Hub;

/// <summary>
/// Puts a verified blob into a snapshot the way huggingface_hub does: <c>snapshots/&lt;commit&gt;/&lt;file&gt;</c> is a
/// relative symlink to <c>../../blobs/&lt;etag&gt;</c> (one more <c>..</c> per sub-folder). Where symlinks cannot be
/// made (Windows without the privilege) the blob is copied instead.
/// </summary>
public static class SnapshotLinker
{
    public static void Link(HubCacheLayout cache, string repoId, string commit, string file, string etag)
    {
        string snapshot = cache.SnapshotFolder(repoId, commit);
        string link = Path.Combine([snapshot, .. file.Split('/')]);
        string blob = cache.BlobPath(repoId, etag);
        string linkFolder = Path.GetDirectoryName(link)!;
        Directory.CreateDirectory(linkFolder);
        if (File.Exists(link) || new FileInfo(link).LinkTarget is not null) File.Delete(link);
        try
        {
            File.CreateSymbolicLink(link, Path.GetRelativePath(linkFolder, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, link, overwrite: true);
        }
    }
}
