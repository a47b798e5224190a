namespace Engine.Core.Hub;

/// <summary>
/// What the hub says about one file before it is downloaded (huggingface_hub's HEAD on <c>resolve/</c>): its
/// ETag (sha256 for LFS files via X-Linked-Etag, the git blob sha1 for small files), size, and the URL
/// the bytes come from (a CDN after a redirect for LFS files).
/// </summary>
public sealed record HubFileMetadata(string File, string Etag, long? Size, Uri DownloadUrl);
