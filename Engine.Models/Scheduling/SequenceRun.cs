using System.Diagnostics;
using System.Threading.Channels;
using Engine.Core.Sampling;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Models.Scheduling;

/// <summary>Where a request stands in the scheduler.</summary>
internal enum RunPhase { Waiting, Prefilling, Decoding, Finished }

/// <summary>What the engine loop hands a request's consumer: a token (with the finish reason if it ended there), or the end.</summary>
internal readonly record struct RunEvent(GeneratedToken? Token, FinishReason? Reason, Exception? Fault = null);

/// <summary>
/// The scheduler's side of one request (nano-vllm's Sequence): the prompt and how much of it is
/// prefilled, its KV sequence once admitted, its own sampler, stop strings and detokenizer, and the
/// channel its tokens stream through. Touched by the engine loop only, except <see cref="Cancel"/>.
/// </summary>
internal sealed class SequenceRun
{
    private readonly Channel<RunEvent> _events = Channel.CreateUnbounded<RunEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly int[] _chunks;
    private int _nextChunk;
    private volatile bool _cancelRequested;

    public SequenceRun(int[] prompt, GenerationOptions options, ITokenTextStream? textStream, int contextLimit, GenerationStats stats,
        IReadOnlySet<int> eos, KvSequence? continued, bool keepSequence)
    {
        Prompt = prompt;
        Options = options;
        TextStream = textStream;
        ContextLimit = contextLimit;
        Stats = stats;
        Eos = eos;
        Sequence = continued;
        KeepsSequence = keepSequence;
        _chunks = options.Prefill.Chunks(prompt.Length).ToArray();
        Sampler = new Sampler(options.Sampling);
        if (options.Sampling.Seed is int seed) DeviceSeed = (ulong)(long)seed;
        Stops = new StopStringMatcher(options.StopStrings);
        History = [.. prompt];
    }

    public int[] Prompt { get; }
    public GenerationOptions Options { get; }
    public ITokenTextStream? TextStream { get; }
    public int ContextLimit { get; }
    public GenerationStats Stats { get; }
    public IReadOnlySet<int> Eos { get; }
    public Sampler Sampler { get; }
    /// <summary>The seed of device token choice (<see cref="Kernels.TokenChoice"/>): the request's seed, else a fresh one.</summary>
    public ulong DeviceSeed { get; } = (ulong)Random.Shared.NextInt64();
    public StopStringMatcher Stops { get; }
    /// <summary>Prompt and generated ids (the penalties' history).</summary>
    public List<int> History { get; }
    /// <summary>The sequence's KV cache: created at admission, or the session's when this request continues one.</summary>
    public KvSequence? Sequence { get; set; }
    /// <summary>Whether the KV sequence belongs to a session (kept when the request ends, unless it failed).</summary>
    public bool KeepsSequence { get; }
    public RunPhase Phase { get; set; } = RunPhase.Waiting;
    public int Prefilled { get; set; }
    public int Generated { get; set; }
    /// <summary>The last chosen token, fed by the next decode step.</summary>
    public int PendingToken { get; set; }
    public long SubmittedAt { get; set; }
    public long AdmittedAt { get; set; }
    public long FirstTokenAt { get; set; }
    public (long ToDevice, long ToHost) TransfersAtStart { get; set; }
    public FinishReason? Reason { get; private set; }
    /// <summary>One line saying why generation stopped early (KV exhaustion, a fault), or null.</summary>
    public string? Message { get; set; }

    public ChannelReader<RunEvent> Events => _events.Reader;
    public bool CancelRequested => _cancelRequested;
    public void Cancel() => _cancelRequested = true;

    /// <summary>The next prefill chunk's length (0 once the prompt is prefilled).</summary>
    public int NextChunk => _nextChunk < _chunks.Length ? _chunks[_nextChunk] : 0;
    public bool IsLastChunk => _nextChunk == _chunks.Length - 1;
    /// <summary>The longest prefill chunk (the most rows one step adds before a policy compresses).</summary>
    public int LargestChunk => _chunks.Length == 0 ? 1 : _chunks.Max();
    public void ChunkDone() { Prefilled += _chunks[_nextChunk]; _nextChunk++; }

    /// <summary>Tokens the sequence will hold at most: its cache now, the prompt and every token it may generate, within the context.</summary>
    public int MaxLogicalLength => Math.Min(ContextLimit, (Sequence?.LogicalLength ?? 0) + Prompt.Length + Options.MaxTokens);

    public void Deliver(GeneratedToken token, FinishReason? reason) => _events.Writer.TryWrite(new RunEvent(token, reason));

    /// <summary>Ends the request: its last event, then the channel closes.</summary>
    public void Finish(FinishReason reason, Exception? fault = null)
    {
        if (Phase == RunPhase.Finished) return;
        Phase = RunPhase.Finished;
        Reason = reason;
        _events.Writer.TryWrite(new RunEvent(null, reason, fault));
        _events.Writer.TryComplete();
    }

    public static double Ms(long from, long to) => from == 0 || to == 0 ? 0 : Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
}
