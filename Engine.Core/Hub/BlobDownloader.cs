using System.Net;
using System.Security.Cryptography;

namespace Engine.Core.Hub;

/// <summary>
/// Fetches one file into <c>blobs/&lt;etag&gt;</c>: bytes grow in <c>blobs/&lt;etag&gt;.incomplete</c> (continued with a
/// Range request after an interruption), are checked against the ETag's checksum and the announced size, and
/// only then renamed to the blob. A failed check deletes the partial file.
/// </summary>
public sealed class BlobDownloader(HubClient client, HubCacheLayout cache, IPullProgress progress, TimeSpan? stallTimeout = null)
{
    private const int BufferSize = 1 << 20;
    private readonly TimeSpan _stallTimeout = stallTimeout ?? TimeSpan.FromSeconds(60);

    /// <summary>Downloads and verifies the blob of <paramref name="file"/>; returns the bytes transferred.</summary>
    public async Task<long> DownloadAsync(string repoId, HubFileMetadata file, CancellationToken cancel)
    {
        Directory.CreateDirectory(cache.BlobsFolder(repoId));
        string partial = cache.IncompleteBlobPath(repoId, file.Etag);
        var kind = EtagChecksum.KindOf(file.Etag);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long transferred = 0;

        FileStream output;
        try
        {
            // Exclusive: a second pull of the same file fails here instead of interleaving writes.
            output = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, BufferSize, useAsync: true);
        }
        catch (IOException e)
        {
            throw new EngineException($"cannot write {partial}: {e.Message} (is another engine pull running?)", e);
        }
        await using (output)
        {
            long have = output.Length;
            if (file.Size is { } expected && have > expected) { output.SetLength(0); have = 0; }
            if (have > 0 && kind == EtagChecksum.Kind.Sha256) await HashExistingAsync(output, have, sha256, cancel);
            output.Seek(have, SeekOrigin.Begin);

            if (file.Size is not { } size || have < size)
            {
                var response = await client.GetBytesAsync(file.DownloadUrl, have, file.File, cancel);
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    // The server refuses our offset: start over from byte 0.
                    response.Dispose();
                    output.SetLength(0);
                    have = 0;
                    sha256.GetHashAndReset();
                    response = await client.GetBytesAsync(file.DownloadUrl, 0, file.File, cancel);
                }
                using (response)
                {
                    if (have > 0 && response.StatusCode != HttpStatusCode.PartialContent)
                    {
                        // The server ignored the Range header and sends the whole file.
                        output.SetLength(0);
                        have = 0;
                        sha256.GetHashAndReset();
                    }
                    else if (have > 0 && response.Content.Headers.ContentRange?.From is { } from && from != have)
                    {
                        throw new EngineException($"{client.Endpoint} resumed {file.File} at byte {from} instead of {have}; delete {partial} and pull again");
                    }
                    progress.FileStarted(file.File, file.Size, have);
                    transferred = await CopyAsync(response, output, file, have, kind == EtagChecksum.Kind.Sha256 ? sha256 : null, cancel);
                }
            }
            else
            {
                progress.FileStarted(file.File, file.Size, have);
            }
            await output.FlushAsync(cancel);
        }

        Verify(file, partial, kind, sha256);
        File.Move(partial, cache.BlobPath(repoId, file.Etag), overwrite: true);
        progress.FileFinished(file.File, new FileInfo(cache.BlobPath(repoId, file.Etag)).Length);
        return transferred;
    }

    private async Task<long> CopyAsync(HttpResponseMessage response, FileStream output, HubFileMetadata file, long have, IncrementalHash? hash, CancellationToken cancel)
    {
        var buffer = new byte[BufferSize];
        long received = 0;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(cancel);
            using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            while (true)
            {
                stall.CancelAfter(_stallTimeout);
                int n = await body.ReadAsync(buffer, stall.Token);
                if (n == 0) break;
                await output.WriteAsync(buffer.AsMemory(0, n), cancel);
                hash?.AppendData(buffer, 0, n);
                received += n;
                progress.BytesReceived(file.File, n);
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException || (e is OperationCanceledException && !cancel.IsCancellationRequested))
        {
            await output.FlushAsync(CancellationToken.None);
            string reason = e is OperationCanceledException ? $"no data for {_stallTimeout.TotalSeconds:0} s" : e.Message;
            string total = file.Size is { } size ? $" of {size}" : "";
            throw new EngineException(
                $"download of {file.File} interrupted after {have + received}{total} bytes ({reason}); run the same engine pull again to resume", e);
        }
        return received;
    }

    private static async Task HashExistingAsync(FileStream stream, long length, IncrementalHash hash, CancellationToken cancel)
    {
        stream.Seek(0, SeekOrigin.Begin);
        var buffer = new byte[BufferSize];
        for (long left = length; left > 0;)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancel);
            if (n == 0) break;
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
    }

    private static void Verify(HubFileMetadata file, string partial, EtagChecksum.Kind kind, IncrementalHash sha256)
    {
        long length = new FileInfo(partial).Length;
        if (file.Size is { } size && length != size)
        {
            File.Delete(partial);
            throw new EngineException($"{file.File}: received {length} bytes but the hub announced {size}; the partial download was deleted, run engine pull again");
        }
        string? actual = kind switch
        {
            EtagChecksum.Kind.Sha256 => Convert.ToHexStringLower(sha256.GetHashAndReset()),
            EtagChecksum.Kind.GitSha1 => EtagChecksum.GitBlobSha1(partial),
            _ => null,
        };
        if (actual is not null && actual != file.Etag)
        {
            File.Delete(partial);
            string algorithm = kind == EtagChecksum.Kind.Sha256 ? "sha256" : "git sha1";
            throw new EngineException($"{file.File}: checksum mismatch ({algorithm} {actual}, expected {file.Etag}); the download was deleted, run engine pull again");
        }
    }
}
