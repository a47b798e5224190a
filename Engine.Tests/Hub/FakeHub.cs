using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Engine.Tests.Hub;

/// <summary>
/// An in-process stand-in for the Hugging Face hub on 127.0.0.1: the revision API, HEAD/GET on
/// <c>resolve/</c> (small files answered directly with a git-sha1 ETag, LFS files redirected to a CDN path
/// with X-Linked-Etag/X-Linked-Size) and byte serving with Range requests. It can cut a connection
/// mid-file, serve tampered bytes, and demand a token, and it records every request.
/// </summary>
internal sealed class FakeHub : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _loop;

    public FakeHub(string repoId)
    {
        RepoId = repoId;
        Commit = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
        int port = FreePort();
        Endpoint = $"http://127.0.0.1:{port}";
        CdnEndpoint = $"http://localhost:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Prefixes.Add(CdnEndpoint + "/");
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public string RepoId { get; }
    public string Commit { get; }
    public string Endpoint { get; }

    /// <summary>Where LFS files are redirected: another host name for the same server, as a CDN is another host.</summary>
    public string CdnEndpoint { get; }

    /// <summary>The repo's files at <see cref="Commit"/> (path to bytes).</summary>
    public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);

    /// <summary>Files served as LFS (sha256 ETag, redirect to the CDN path).</summary>
    public HashSet<string> LfsFiles { get; } = new(StringComparer.Ordinal);

    /// <summary>Files whose served bytes differ from what their ETag promises (same length).</summary>
    public HashSet<string> TamperedFiles { get; } = new(StringComparer.Ordinal);

    /// <summary>Never answer the revision API (until disposed).</summary>
    public bool SilentApi { get; set; }

    /// <summary>Send this many bytes of this file's body, then go silent without closing (until disposed).</summary>
    public (string File, int Bytes)? StallOnce { get; set; }

    /// <summary>Cut the connection once after this many bytes of this file's body.</summary>
    public (string File, int Bytes)? CutOnce { get; set; }

    /// <summary>Old repo ids answered with a relative redirect to <see cref="RepoId"/>, as the hub does for renamed repos.</summary>
    public HashSet<string> RenamedFrom { get; } = new(StringComparer.Ordinal);

    /// <summary>Sizes announced in X-Linked-Size instead of the true ones.</summary>
    public Dictionary<string, long> AnnouncedSizes { get; } = new(StringComparer.Ordinal);

    /// <summary>Answer Range requests with the whole file (200), as some servers do.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>When set, every hub request (not the CDN's) without this bearer token gets 401 GatedRepo.</summary>
    public string? RequiredToken { get; set; }

    public ConcurrentQueue<RecordedRequest> Requests { get; } = new();

    public sealed record RecordedRequest(string Method, string Path, string? Range, string? Authorization);

    public void AddFile(string name, byte[] content, bool lfs = false)
    {
        Files[name] = content;
        if (lfs) LfsFiles.Add(name);
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string GitSha1(byte[] content) =>
        Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {content.Length}\0"), .. content]));

    public string EtagOf(string file) => LfsFiles.Contains(file) ? Sha256(Files[file]) : GitSha1(Files[file]);

    private async Task AcceptLoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => Handle(context));
        }
    }

    private void Handle(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string path = Uri.UnescapeDataString(request.Url!.AbsolutePath);
        Requests.Enqueue(new RecordedRequest(request.HttpMethod, path, request.Headers["Range"], request.Headers["Authorization"]));
        try
        {
            bool cdn = path.StartsWith("/cdn/", StringComparison.Ordinal);
            if (RequiredToken is not null && !cdn && request.Headers["Authorization"] != $"Bearer {RequiredToken}")
            {
                Fail(response, 401, "GatedRepo");
                return;
            }
            foreach (string old in RenamedFrom)
                foreach (string prefix in new[] { "/api/models/", "/" })
                    if (path.StartsWith($"{prefix}{old}/", StringComparison.Ordinal))
                    {
                        response.StatusCode = 307;
                        response.AddHeader("Location", prefix + RepoId + path[(prefix.Length + old.Length)..]);
                        response.ContentLength64 = 0;
                        response.Close();
                        return;
                    }
            string api = $"/api/models/{RepoId}/revision/";
            string resolve = $"/{RepoId}/resolve/";
            if (SilentApi && path.StartsWith("/api/", StringComparison.Ordinal))
            {
                _stopping.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(30));
                response.Abort();
                return;
            }
            if (path.StartsWith(api, StringComparison.Ordinal)) ServeRevision(response, path[api.Length..]);
            else if (path.StartsWith(resolve, StringComparison.Ordinal)) ServeResolve(request, response, path[resolve.Length..]);
            else if (path.StartsWith("/cdn/", StringComparison.Ordinal)) ServeCdn(request, response, path["/cdn/".Length..]);
            else Fail(response, 404, "RepoNotFound");
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            // The client went away; nothing to answer.
        }
    }

    private void ServeRevision(HttpListenerResponse response, string revision)
    {
        if (revision != "main" && revision != Commit)
        {
            Fail(response, 404, "RevisionNotFound");
            return;
        }
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            id = RepoId,
            sha = Commit,
            siblings = Files.Keys.Select(f => new { rfilename = f }).ToArray(),
        });
        response.ContentType = "application/json";
        response.ContentLength64 = body.Length;
        response.OutputStream.Write(body);
        response.Close();
    }

    private void ServeResolve(HttpListenerRequest request, HttpListenerResponse response, string rest)
    {
        int slash = rest.IndexOf('/');
        string revision = rest[..slash];
        string file = rest[(slash + 1)..];
        if ((revision != "main" && revision != Commit) || !Files.TryGetValue(file, out var content))
        {
            Fail(response, 404, revision != "main" && revision != Commit ? "RevisionNotFound" : "EntryNotFound");
            return;
        }
        response.AddHeader("X-Repo-Commit", Commit);
        if (LfsFiles.Contains(file))
        {
            string sha = Sha256(content);
            response.StatusCode = 302;
            response.AddHeader("X-Linked-Etag", $"\"{sha}\"");
            response.AddHeader("X-Linked-Size", AnnouncedSizes.GetValueOrDefault(file, content.Length).ToString());
            response.AddHeader("ETag", "\"not-the-sha\"");
            response.RedirectLocation = $"{CdnEndpoint}/cdn/{file}";
            response.ContentLength64 = 0;
            response.Close();
            return;
        }
        response.AddHeader("ETag", $"\"{GitSha1(content)}\"");
        ServeBytes(request, response, file);
    }

    private void ServeCdn(HttpListenerRequest request, HttpListenerResponse response, string file)
    {
        if (!LfsFiles.Contains(file))
        {
            Fail(response, 404, "EntryNotFound");
            return;
        }
        ServeBytes(request, response, file);
    }

    private void ServeBytes(HttpListenerRequest request, HttpListenerResponse response, string file)
    {
        byte[] content = Files[file];
        if (TamperedFiles.Contains(file))
        {
            content = (byte[])content.Clone();
            content[content.Length / 2] ^= 0x5A;
        }
        long start = 0;
        string? range = request.Headers["Range"];
        if (range is not null && !IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1]);
            if (start >= content.Length)
            {
                response.StatusCode = 416;
                response.Close();
                return;
            }
            response.StatusCode = 206;
            response.AddHeader("Content-Range", $"bytes {start}-{content.Length - 1}/{content.Length}");
        }
        response.ContentLength64 = content.Length - start;
        if (request.HttpMethod == "HEAD")
        {
            response.Close();
            return;
        }
        if (StallOnce is { } stall && stall.File == file)
        {
            StallOnce = null;
            response.OutputStream.Write(content, (int)start, (int)Math.Min(stall.Bytes, content.Length - start));
            response.OutputStream.Flush();
            _stopping.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(30));
            response.Abort();
            return;
        }
        if (CutOnce is { } cut && cut.File == file)
        {
            CutOnce = null;
            int count = (int)Math.Min(cut.Bytes, content.Length - start);
            response.OutputStream.Write(content, (int)start, count);
            response.OutputStream.Flush();
            // Give the client time to take the bytes in before the reset (a reset may drop unread data).
            Thread.Sleep(500);
            response.Abort();
            return;
        }
        response.OutputStream.Write(content, (int)start, (int)(content.Length - start));
        response.Close();
    }

    private static void Fail(HttpListenerResponse response, int status, string errorCode)
    {
        response.StatusCode = status;
        response.AddHeader("X-Error-Code", errorCode);
        response.ContentLength64 = 0;
        response.Close();
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public void Dispose()
    {
        if (!_listener.IsListening) return;
        _stopping.Cancel();
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
