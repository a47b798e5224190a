using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Engine.Core.Hub;

/// <summary>
/// The hub's HTTP endpoints the engine uses: the revision API (commit and file list), HEAD on
/// <c>resolve/</c> (ETag, size, commit, CDN location) and GET of file bytes with an optional Range. Redirects
/// are followed by hand so that the metadata of the hub's own reply is kept and the token is never sent to
/// another host. Every failure becomes a one-line <see cref="EngineException"/>.
/// </summary>
public sealed class HubClient : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HubEnvironment _environment;
    private readonly Uri _endpoint;
    private readonly HttpClient _http;
    private readonly TimeSpan _silenceTimeout;

    /// <param name="silenceTimeout">How long the hub may stay silent (connecting, before answering, within a small body) before the request fails.</param>
    public HubClient(HubEnvironment environment, TimeSpan? silenceTimeout = null)
    {
        _environment = environment;
        _silenceTimeout = silenceTimeout ?? TimeSpan.FromSeconds(60);
        if (!Uri.TryCreate(environment.Endpoint + "/", UriKind.Absolute, out var endpoint) || endpoint.Scheme is not ("http" or "https"))
            throw new EngineException($"HF_ENDPOINT '{environment.Endpoint}' is not an http(s) URL");
        _endpoint = endpoint;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = _silenceTimeout,
        };
        // Whole-request timeouts would cut long downloads; stalls are caught per read by the downloader instead.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("engine", "0.1"));
    }

    public string Endpoint => _environment.Endpoint;

    /// <summary>The commit and file list of <paramref name="repoId"/> at <paramref name="revision"/>.</summary>
    public async Task<RepoRevision> GetRevisionAsync(string repoId, string revision, CancellationToken cancel)
    {
        var url = new Uri(_endpoint, $"api/models/{repoId}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await SendAsync(HttpMethod.Get, url, null, followAbsolute: true, $"{repoId}@{revision}", cancel);
        EnsureSuccess(response, repoId, revision, null);
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        silence.CancelAfter(_silenceTimeout);
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync(silence.Token);
            using var document = await JsonDocument.ParseAsync(body, cancellationToken: silence.Token);
            var root = document.RootElement;
            string sha = root.TryGetProperty("sha", out var s) ? s.GetString() ?? "" : "";
            if (!HubCacheLayout.IsCommitHash(sha)) throw new EngineException($"{Endpoint}: the revision API gave no commit hash for {repoId}@{revision}");
            var files = new List<string>();
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
                foreach (var sibling in siblings.EnumerateArray())
                    if (sibling.TryGetProperty("rfilename", out var name) && name.GetString() is { } file)
                        files.Add(file);
            return new RepoRevision(repoId, sha, files);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new EngineException($"{Endpoint}: unreadable answer from the revision API for {repoId}@{revision} ({e.Message})");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw Unreachable(e);
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw Silent($"{repoId}@{revision}");
        }
    }

    /// <summary>HEAD of a file at a commit: what to download and how to check it.</summary>
    public async Task<HubFileMetadata> GetFileMetadataAsync(string repoId, string commit, string file, CancellationToken cancel)
    {
        var url = ResolveUrl(repoId, commit, file);
        // Like huggingface_hub: follow relative redirects (renamed repos), stop at the first absolute one (the CDN).
        using var response = await SendAsync(HttpMethod.Head, url, null, followAbsolute: false, $"{repoId}/{file}", cancel);
        if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is null)
            throw new EngineException($"{Endpoint}: redirect without a location for {repoId}/{file}");
        if ((int)response.StatusCode is < 300 or >= 400) EnsureSuccess(response, repoId, commit, file);
        string? etag = EtagChecksum.Normalize(Header(response, "X-Linked-Etag") ?? Header(response, "ETag"));
        if (etag is null) throw new EngineException($"{Endpoint}: no usable ETag for {repoId}/{file}; cannot store or verify it");
        long? size = long.TryParse(Header(response, "X-Linked-Size"), out long linked) ? linked : response.Content.Headers.ContentLength;
        var location = response.Headers.Location is { } l ? new Uri(response.RequestMessage!.RequestUri!, l) : response.RequestMessage!.RequestUri!;
        return new HubFileMetadata(file, etag, size, location);
    }

    /// <summary>GET of file bytes from <paramref name="url"/>, from byte <paramref name="offset"/> on when it is positive (a Range request).</summary>
    public async Task<HttpResponseMessage> GetBytesAsync(Uri url, long offset, string what, CancellationToken cancel)
    {
        var response = await SendAsync(HttpMethod.Get, url, offset > 0 ? offset : null, followAbsolute: true, what, cancel);
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable) return response;
        try
        {
            EnsureSuccess(response, null, null, what);
        }
        catch
        {
            response.Dispose();
            throw;
        }
        return response;
    }

    public Uri ResolveUrl(string repoId, string revision, string file) =>
        new(_endpoint, $"{repoId}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', file.Split('/').Select(Uri.EscapeDataString))}");

    private EngineException Unreachable(Exception e) =>
        new($"cannot reach {Endpoint}: {e.Message} (check the network, or HF_ENDPOINT; HF_HUB_OFFLINE=1 uses the cache only)", e);

    private EngineException Silent(string what) =>
        new($"{Endpoint} did not answer within {_silenceTimeout.TotalSeconds:0.#} s for {what}; check the network and run engine pull again");

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, long? rangeStart, bool followAbsolute, string what, CancellationToken cancel)
    {
        for (int hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, url);
            if (_environment.Token is { } token && SameOrigin(url, _endpoint))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            if (rangeStart is { } start) request.Headers.Range = new RangeHeaderValue(start, null);
            request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
            HttpResponseMessage response;
            using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            silence.CancelAfter(_silenceTimeout);
            try
            {
                response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, silence.Token);
            }
            catch (HttpRequestException e)
            {
                throw Unreachable(e);
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                throw Silent(what);
            }
            int status = (int)response.StatusCode;
            if (status is < 300 or >= 400 || response.Headers.Location is not { } location) return response;
            // huggingface_hub's rule: a Location without a host is the hub's own (renamed repo); with one, a CDN.
            if (!followAbsolute && location.IsAbsoluteUri) return response;
            var next = new Uri(url, location);
            response.Dispose();
            if (hop >= MaxRedirects) throw new EngineException($"{Endpoint}: too many redirects for {what}");
            url = next;
        }
    }

    private void EnsureSuccess(HttpResponseMessage response, string? repoId, string? revision, string? file)
    {
        int status = (int)response.StatusCode;
        if (status is >= 200 and < 300) return;
        string code = Header(response, "X-Error-Code") ?? "";
        string repo = repoId ?? "the repository";
        string target = file is null ? $"{repo}@{revision}" : repoId is null ? file : $"{repoId}/{file}";
        string tokenHint = _environment.Token is null
            ? "set HF_TOKEN (or run huggingface-cli login) with a token that has access"
            : "the token (HF_TOKEN or the huggingface-cli login file) was refused for it";
        throw new EngineException(status switch
        {
            401 or 403 when code == "GatedRepo" =>
                $"{repo} is gated (HTTP {status}): accept its license at {Endpoint}/{repoId} and {tokenHint}",
            401 or 403 when code == "RepoNotFound" =>
                $"repository {repo} not found on {Endpoint} (HTTP {status}); if it is private or gated, {tokenHint}",
            401 or 403 => $"access to {target} denied (HTTP {status}): the model may be gated or private; {tokenHint}",
            404 when code == "RevisionNotFound" => $"revision '{revision}' not found in {repo} on {Endpoint} (HTTP 404)",
            404 when code == "EntryNotFound" || file is not null => $"file {target} not found on {Endpoint} (HTTP 404)",
            404 => $"repository or revision {target} not found on {Endpoint} (HTTP 404)",
            429 => $"{Endpoint} is rate-limiting requests (HTTP 429); wait and run engine pull again",
            _ => $"{Endpoint} answered HTTP {status} ({response.ReasonPhrase}) for {target}",
        });
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;

    private static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    public void Dispose() => _http.Dispose();
}
