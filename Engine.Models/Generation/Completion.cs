using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Engine.Core;
using Engine.Core.Kv;
using Engine.Core.Sampling;
using Engine.Kernels;
using Engine.Models.Kv;

namespace Engine.Models.Generation;

/// <summary>
/// One request: its prompt is prefilled in chunks, then tokens are decoded one at a time until EOS, a
/// stop string, max-tokens, the context limit or cancellation. Enumerate it once through
/// <see cref="StreamAsync"/> (or <see cref="Run"/>); <see cref="TokenIds"/>, <see cref="Text"/>,
/// <see cref="FinishReason"/> and <see cref="Stats"/> describe it as it goes and after it ended.
/// </summary>
public sealed class Completion
{
    private readonly LlamaModel _model;
    private readonly PagedKvCache _cache;
    private readonly int[] _prompt;
    private readonly GenerationOptions _options;
    private readonly ITokenTextStream? _textStream;
    private readonly int _contextLimit;
    private readonly HashSet<int> _eos;
    private readonly Func<IDisposable> _enter;
    private readonly List<int> _generated = [];
    private readonly List<IReadOnlyList<TokenLogprob>> _logprobs = [];
    private readonly StringBuilder _text = new();
    private int _started;
    private float[] _hostLogits = [];
    private readonly int[] _decodeToken = new int[1];
    private bool _failed;

    internal Completion(LlamaModel model, PagedKvCache cache, IReadOnlyList<int> prompt, GenerationOptions options,
        ITokenTextStream? textStream, int contextLimit, double loadMs, Func<IDisposable> enter)
    {
        options.Validate();
        if (prompt.Count == 0) throw new EngineException("the prompt is empty: give at least one token");
        foreach (int id in prompt)
            if ((uint)id >= (uint)model.Config.VocabSize) throw new EngineException($"prompt token id {id} is outside the vocabulary (0..{model.Config.VocabSize - 1})");
        if (prompt.Count > contextLimit)
            throw new EngineException($"the prompt has {prompt.Count} tokens, more than the model's context of {contextLimit}");
        if (options.StopStrings.Count > 0 && textStream is null)
            throw new EngineException("stop strings need a tokenizer to decode text, and this model has none");
        _model = model;
        _cache = cache;
        _prompt = prompt.ToArray();
        _options = options;
        _textStream = textStream;
        _contextLimit = contextLimit;
        _eos = [.. options.EosTokenIds ?? model.Config.EosTokenIds];
        _enter = enter;
        Stats = new GenerationStats { PromptTokens = _prompt.Length, LoadMs = loadMs, PageSize = cache.PageSize };
    }

    public IReadOnlyList<int> PromptIds => _prompt;
    /// <summary>Generated ids so far (an EOS id that ended generation included, as Hugging Face does).</summary>
    public IReadOnlyList<int> TokenIds => _generated;
    /// <summary>Generated text so far (without a matched stop string).</summary>
    public string Text => _text.ToString();
    /// <summary>Top log-probabilities per generated token, when requested.</summary>
    public IReadOnlyList<IReadOnlyList<TokenLogprob>> Logprobs => _logprobs;
    /// <summary>Null while running.</summary>
    public FinishReason? FinishReason { get; private set; }
    /// <summary>Why generation stopped short, one line: set with <see cref="Generation.FinishReason.KvExhausted"/> and <see cref="Generation.FinishReason.Error"/>.</summary>
    public string? FinishMessage { get; private set; }
    public GenerationStats Stats { get; }

    /// <summary>Streams the tokens; cancelling ends the stream with <see cref="Generation.FinishReason.Cancelled"/> instead of throwing.</summary>
    public async IAsyncEnumerable<GeneratedToken> StreamAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        foreach (var token in Run(cancellation))
        {
            yield return token;
            await Task.Yield();
        }
    }

    /// <summary>Runs to the end and returns the finish reason.</summary>
    public async Task<FinishReason> RunToEndAsync(CancellationToken cancellation = default)
    {
        await foreach (var _ in StreamAsync(cancellation)) { }
        return FinishReason!.Value;
    }

    /// <summary>The synchronous form of <see cref="StreamAsync"/>.</summary>
    public IEnumerable<GeneratedToken> Run(CancellationToken cancellation = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0) throw new InvalidOperationException("a completion runs once");
        using var running = _enter(); // one request at a time per engine: they share the activation buffers
        var transfers = _model.Backend.Transfers;
        long toDevice0 = transfers.BytesToDevice, toHost0 = transfers.BytesToHost;
        var clock = Stopwatch.StartNew();
        var sequence = _cache.CreateSequence(_contextLimit);
        var sampler = new Sampler(_options.Sampling);
        var stops = new StopStringMatcher(_options.StopStrings);
        var history = new List<int>(_prompt);
        try
        {
            // Prefill: every chunk but the last only fills the cache; the last gives the first logits.
            DeviceArray? logits = null;
            int done = 0;
            foreach (int size in _options.Prefill.Chunks(_prompt.Length))
            {
                if (cancellation.IsCancellationRequested) { Finish(Generation.FinishReason.Cancelled); yield break; }
                bool last = done + size == _prompt.Length;
                logits = Step(sequence, done, size, new ForwardStep(true, last));
                if (logits is null) { Finish(Generation.FinishReason.KvExhausted); yield break; }
                done += size;
                Stats.PrefillTokens = done;
            }

            while (true)
            {
                int token;
                IReadOnlyList<TokenLogprob>? top;
                try { token = Choose(logits!, sampler, history, out top); }
                catch (NonFiniteLogitsException e) { FinishMessage = e.Message; token = -1; top = null; }
                catch { _failed = true; throw; }
                if (token < 0) { Finish(Generation.FinishReason.Error); yield break; }
                if (_generated.Count == 0)
                {
                    _model.Backend.Synchronize();
                    Stats.PrefillMs = Stats.TimeToFirstTokenMs = clock.Elapsed.TotalMilliseconds;
                }
                _generated.Add(token);
                history.Add(token);
                if (top is not null) _logprobs.Add(top);
                Stats.GeneratedTokens = _generated.Count;

                bool isEos = !_options.IgnoreEos && _eos.Contains(token);
                string text = isEos || _textStream is null ? "" : stops.Push(_textStream.Push(token));
                FinishReason? reason =
                    isEos ? Generation.FinishReason.Eos
                    : stops.Stopped ? Generation.FinishReason.Stop
                    : _generated.Count >= _options.MaxTokens ? Generation.FinishReason.Length
                    : sequence.LogicalLength >= _contextLimit ? Generation.FinishReason.Context
                    : cancellation.IsCancellationRequested ? Generation.FinishReason.Cancelled
                    : null;
                // Text held back for a possible stop string is released when generation ends otherwise.
                if (reason is not null and not Generation.FinishReason.Stop && _textStream is not null)
                    text += stops.Push(_textStream.Flush()) + stops.Flush();
                _text.Append(text);
                yield return new GeneratedToken(token, text, top);
                if (reason is FinishReason r) { Finish(r); yield break; }
                // The consumer may have cancelled while holding this token: no further device work then.
                if (cancellation.IsCancellationRequested) { Finish(Generation.FinishReason.Cancelled); yield break; }

                history.CopyTo(history.Count - 1, _decodeToken, 0, 1);
                logits = Step(sequence, -1, 1, ForwardStep.Decode);
                if (logits is null) { Finish(Generation.FinishReason.KvExhausted); yield break; }
            }
        }
        finally
        {
            // Ended without a reason: the caller stopped enumerating early (a failure leaves it null).
            if (!_failed) FinishReason ??= Generation.FinishReason.Cancelled;
            _model.Backend.Synchronize();
            double total = clock.Elapsed.TotalMilliseconds;
            if (_generated.Count > 0) Stats.DecodeMs = total - Stats.PrefillMs;
            else Stats.PrefillMs = total;
            Stats.KvPagesUsed = sequence.Kv.PagesHeld;
            Stats.KvBytes = Stats.KvPagesUsed * _cache.Allocator.BytesPerPage;
            Stats.Layers = sequence.Kv.Layers.Select(l => new LayerKvLength(sequence.LogicalLength, l.PhysicalLength)).ToArray();
            Stats.BytesToDevice = transfers.BytesToDevice - toDevice0;
            Stats.BytesToHost = transfers.BytesToHost - toHost0;
            sequence.Dispose();
        }
    }

    private void Finish(FinishReason reason) => FinishReason = reason;

    /// <summary>
    /// One forward step: prompt tokens [start, start + count), or the last generated token when start is -1.
    /// Null when the KV pool ran out (<see cref="FinishMessage"/> says so): the request ends, its tokens kept.
    /// </summary>
    private DeviceArray? Step(CacheSequence sequence, int start, int count, ForwardStep step)
    {
        try
        {
            ReadOnlySpan<int> tokens = start < 0 ? _decodeToken : _prompt.AsSpan(start, count);
            return _model.Forward(sequence, tokens, step, _cache, _options.KvPolicy);
        }
        catch (KvExhaustedException e)
        {
            FinishMessage = e.Message;
            return null;
        }
        catch
        {
            _failed = true;
            throw;
        }
    }

    /// <summary>Greedy without logprobs or penalty argmaxes on the device; everything else samples on the host from a logits copy.</summary>
    private int Choose(DeviceArray logits, Sampler sampler, List<int> history, out IReadOnlyList<TokenLogprob>? top)
    {
        int vocab = _model.Config.VocabSize;
        var sampling = _options.Sampling;
        if (sampling.IsGreedy && sampling.RepetitionPenalty == 1.0 && _options.Logprobs == 0)
        {
            top = null;
            int chosen = _model.Backend.Argmax(logits, vocab);
            NonFiniteLogitsException.CheckChosen(_model.Backend, logits, chosen);
            return chosen;
        }
        long copyStart = Stopwatch.GetTimestamp();
        if (_hostLogits.Length != vocab) _hostLogits = new float[vocab];
        var host = _hostLogits;
        _model.Backend.Download<float>(logits, host);
        Stats.LogitsCopyMs += Stopwatch.GetElapsedTime(copyStart).TotalMilliseconds;
        NonFiniteLogitsException.CheckAll(host);
        top = _options.Logprobs > 0 ? TopLogprobs.Compute(host, _options.Logprobs) : null;
        return sampler.Sample(host, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(history));
    }
}
