using System.Diagnostics;
using System.Runtime.CompilerServices;
using Engine.Core.Text.Templates;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Server.Api;
using Engine.Server.Metrics;

namespace Engine.Server;

/// <summary>
/// The one door to the engine: loads it in the background, admits requests through a bounded queue and
/// streams each completion's tokens back as the engine loop delivers them. Up to <see cref="ServerOptions.MaxConcurrent"/>
/// requests run at once; the engine's scheduler batches them into shared forward steps (and holds
/// back those its KV pool cannot reserve pages for yet).
/// </summary>
public sealed class EngineGateway : IDisposable
{
    private readonly ServerOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Task _loading;
    private InferenceEngine? _engine;
    private ChatTemplate? _chatTemplate;
    private string? _loadError;
    private int _waiting, _running;
    private volatile bool _draining;

    public EngineGateway(ServerOptions options, Func<ServerOptions, InferenceEngine> load, ServerMetrics metrics)
    {
        _options = options;
        Metrics = metrics;
        _slots = new SemaphoreSlim(options.MaxConcurrent, options.MaxConcurrent);
        _loading = Task.Run(() =>
        {
            InferenceEngine? engine = null;
            try
            {
                engine = load(options);
                _chatTemplate = options.ChatTemplatePath is { } path
                    ? ChatTemplate.Parse(File.ReadAllText(path), engine.ChatTemplate?.SpecialTokens)
                    : engine.ChatTemplate;
                // The server's default KV policy is checked against the model once, before any request.
                using (new KvPolicyRequest(options.DefaultKvPolicy, options.DefaultLagKv).Create(engine.Config.NumLayers) as IDisposable) { }
                _engine = engine;
            }
            catch (Exception e)
            {
                engine?.Dispose();
                _loadError = (e is ApiException ? e.Message.Replace("kv_policy: ", "default KV policy: ") : e.Message).ReplaceLineEndings(" ");
            }
        });
    }

    public ServerOptions Options => _options;
    public ServerMetrics Metrics { get; }
    public bool IsReady => _engine is not null;
    /// <summary>Why the model failed to load, or null.</summary>
    public string? LoadError => _loadError;
    /// <summary>Completes when loading ended (either way).</summary>
    public Task Loading => _loading;
    public bool IsDraining => _draining;
    public int Running => Volatile.Read(ref _running);
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>The loaded engine; a 503 while it loads (or when it failed to).</summary>
    public InferenceEngine Engine => _engine ?? throw new ApiException(503,
        _loadError is null ? "the model is still loading" : $"the model failed to load: {_loadError}", code: "model_not_ready");

    /// <summary>The chat template in use (--chat-template or the model's), or null.</summary>
    public ChatTemplate? ChatTemplate => _engine is null ? null : _chatTemplate;

    /// <summary>Waits for a turn on the engine; a 503 when the queue is full or the server is stopping.</summary>
    public async Task<EngineLease> AcquireAsync(CancellationToken cancellation)
    {
        var engine = Engine;
        if (_draining) throw new ApiException(503, "the server is shutting down", code: "shutting_down");
        Interlocked.Increment(ref _waiting);
        try
        {
            if (!_slots.Wait(0))
            {
                // This request counts among the waiting: with --max-queue 0 a busy engine refuses at once.
                if (Volatile.Read(ref _waiting) > _options.MaxQueue)
                    throw new ApiException(503, $"the request queue is full ({_options.MaxQueue} waiting); retry later", code: "queue_full");
                await _slots.WaitAsync(cancellation);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
        Interlocked.Increment(ref _running);
        return new EngineLease(this, engine);
    }

    private void Release()
    {
        Interlocked.Decrement(ref _running);
        _slots.Release();
    }

    /// <summary>SIGTERM: refuse new requests, give running ones <paramref name="grace"/>, then cancel them.</summary>
    public async Task DrainAsync(TimeSpan grace)
    {
        _draining = true;
        var clock = Stopwatch.StartNew();
        while ((Running > 0 || Waiting > 0) && clock.Elapsed < grace) await Task.Delay(50);
        _shutdown.Cancel();
        var afterCancel = Stopwatch.StartNew();
        while ((Running > 0 || Waiting > 0) && afterCancel.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(20);
    }

    public void Dispose()
    {
        _shutdown.Cancel();
        _loading.Wait(TimeSpan.FromSeconds(30));
        _engine?.Dispose();
        _shutdown.Dispose();
    }

    /// <summary>A turn on the engine: runs completions (one after another) until disposed.</summary>
    public sealed class EngineLease(EngineGateway gateway, InferenceEngine engine) : IDisposable
    {
        private int _disposed;

        public InferenceEngine Engine { get; } = engine;

        /// <summary>
        /// Streams the completion's tokens as the engine loop delivers them (no thread of its own: the
        /// request awaits its channel). Cancelling (client gone, server stopping) ends it within one step
        /// with finish reason cancelled; an engine fault rethrows here.
        /// </summary>
        public async IAsyncEnumerable<GeneratedToken> Stream(Completion completion, [EnumeratorCancellation] CancellationToken cancellation)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, gateway._shutdown.Token);
            var metrics = gateway.Metrics;
            long start = Stopwatch.GetTimestamp(), last = 0;
            try
            {
                await foreach (var t in completion.StreamAsync(linked.Token).ConfigureAwait(false))
                {
                    long now = Stopwatch.GetTimestamp();
                    if (last == 0) metrics.ObserveTimeToFirstToken(Stopwatch.GetElapsedTime(start, now).TotalSeconds);
                    else metrics.ObserveInterTokenLatency(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                    last = now;
                    yield return t;
                }
            }
            finally
            {
                // Leaving early (the consumer stopped) already ended the completion and returned its pages.
                metrics.ObserveCompletion(completion);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) gateway.Release();
        }
    }
}
