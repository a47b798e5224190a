using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Text;
using Engine.Core.Sampling;
using Engine.Models.Scheduling;

namespace Engine.Models.Generation;

/// <summary>
/// One request. Nothing runs until it is enumerated (<see cref="StreamAsync"/> or <see cref="Run"/>,
/// once); it then joins the engine's scheduler, sharing forward steps with every other request, and
/// its tokens stream out as the engine loop produces them, until EOS, a stop string, max-tokens, the
/// context limit, KV exhaustion, an error or cancellation. <see cref="TokenIds"/>, <see cref="Text"/>,
/// <see cref="FinishReason"/> and <see cref="Stats"/> describe what was delivered, as it goes and after.
/// Cancelling (or leaving the enumeration early) ends the request before the engine's next step and
/// returns its KV pages; the enumeration ends once they are back.
/// </summary>
public sealed class Completion
{
    private readonly EngineLoop _loop;
    private readonly SequenceRun _run;
    private readonly Action<SequenceRun>? _onEnd;
    private readonly List<int> _generated = [];
    private readonly List<IReadOnlyList<TokenLogprob>> _logprobs = [];
    private readonly StringBuilder _text = new();
    private int _started;

    internal Completion(EngineLoop loop, SequenceRun run, Action<SequenceRun>? onEnd = null)
    {
        _loop = loop;
        _run = run;
        _onEnd = onEnd;
        Stats = run.Stats;
    }

    public IReadOnlyList<int> PromptIds => _run.Prompt;
    /// <summary>Generated ids so far (an EOS id that ended generation included, as Hugging Face does).</summary>
    public IReadOnlyList<int> TokenIds => _generated;
    /// <summary>Generated text so far (without a matched stop string).</summary>
    public string Text => _text.ToString();
    /// <summary>Top log-probabilities per generated token, when requested.</summary>
    public IReadOnlyList<IReadOnlyList<TokenLogprob>> Logprobs => _logprobs;
    /// <summary>Null while running.</summary>
    public FinishReason? FinishReason { get; private set; }
    /// <summary>One line explaining a <see cref="Generation.FinishReason.KvExhausted"/> or <see cref="Generation.FinishReason.Error"/> ending; null otherwise.</summary>
    public string? FinishMessage => FinishReason is Generation.FinishReason.KvExhausted or Generation.FinishReason.Error ? _run.Message : null;
    public GenerationStats Stats { get; }

    /// <summary>Streams the tokens; cancelling ends the stream with <see cref="Generation.FinishReason.Cancelled"/> instead of throwing.</summary>
    public async IAsyncEnumerable<GeneratedToken> StreamAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        // Registered first: a token cancelled already marks the request before the loop can run a step of it.
        using var registration = cancellation.Register(() => _loop.Cancel(_run));
        Start();
        try
        {
            while (FinishReason is null && await _run.Events.WaitToReadAsync().ConfigureAwait(false))
                while (FinishReason is null && _run.Events.TryRead(out var item))
                    if (Consume(item, cancellation.IsCancellationRequested) is { } token) yield return token;
        }
        finally
        {
            if (FinishReason is null) await StopAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs to the end and returns the finish reason.</summary>
    public async Task<FinishReason> RunToEndAsync(CancellationToken cancellation = default)
    {
        await foreach (var _ in StreamAsync(cancellation).ConfigureAwait(false)) { }
        return FinishReason!.Value;
    }

    /// <summary>The synchronous form of <see cref="StreamAsync"/>.</summary>
    public IEnumerable<GeneratedToken> Run(CancellationToken cancellation = default)
    {
        // Registered first: a token cancelled already marks the request before the loop can run a step of it.
        using var registration = cancellation.Register(() => _loop.Cancel(_run));
        Start();
        try
        {
            while (FinishReason is null && _run.Events.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
                while (FinishReason is null && _run.Events.TryRead(out var item))
                    if (Consume(item, cancellation.IsCancellationRequested) is { } token) yield return token;
        }
        finally
        {
            if (FinishReason is null) StopAsync().GetAwaiter().GetResult();
        }
    }

    private void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("a completion runs once");
        _loop.Submit(_run);
    }

    /// <summary>Takes one event from the loop: a token to hand out (none once cancelled), or the end.</summary>
    private GeneratedToken? Consume(RunEvent item, bool cancelled)
    {
        if (item.Token is { } token)
        {
            if (cancelled) return null; // produced before the loop saw the cancellation: not delivered
            _generated.Add(token.Id);
            if (token.TopLogprobs is not null) _logprobs.Add(token.TopLogprobs);
            _text.Append(token.Text);
            return token;
        }
        End(cancelled ? Generation.FinishReason.Cancelled : item.Reason!.Value);
        if (item.Fault is not null) ExceptionDispatchInfo.Capture(item.Fault).Throw();
        return null;
    }

    /// <summary>The consumer stopped early: ends the request and waits until its pages are back.</summary>
    private async Task StopAsync()
    {
        _loop.Cancel(_run);
        while (await _run.Events.WaitToReadAsync().ConfigureAwait(false))
            while (_run.Events.TryRead(out _)) { }
        End(Generation.FinishReason.Cancelled);
    }

    private void End(FinishReason reason)
    {
        FinishReason = reason;
        Stats.GeneratedTokens = _generated.Count;
        _onEnd?.Invoke(_run);
    }
}
