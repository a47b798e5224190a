using System.Diagnostics;
using Engine.Core;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Models.Scheduling;

/// <summary>What the engine loop has run: forward steps, the rows they carried, the most sequences one step held.</summary>
public readonly record struct StepCounters(long Steps, long Rows, int PeakSequencesPerStep);

/// <summary>
/// The engine's one worker thread (nano-vllm's LLMEngine.step loop): asks the scheduler for a step,
/// runs it through the model as one batch, picks each sequence's token with its own sampler, streams
/// tokens to their requests and ends the finished ones, returning their pages at once. Requests come
/// from any thread (<see cref="Submit"/>, <see cref="Cancel"/>); the model, the cache's sequences and
/// the samplers are touched by this thread only.
/// </summary>
internal sealed class EngineLoop : IDisposable
{
    private readonly LlamaModel _model;
    private readonly PagedKvCache _cache;
    private readonly Scheduler _scheduler;
    private readonly TokenChooser _chooser;
    private readonly object _lock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly Thread _thread;
    private bool _stopping;
    private long _steps, _rows;
    private int _peakSequences;

    public EngineLoop(LlamaModel model, PagedKvCache cache, int tokenBudget, int maxSequences)
    {
        _model = model;
        _cache = cache;
        _scheduler = new Scheduler(cache, tokenBudget, maxSequences);
        _chooser = new TokenChooser(model.Backend, model.Config.VocabSize);
        _thread = new Thread(Run) { IsBackground = true, Name = "engine loop" };
        _thread.Start();
    }

    /// <summary>Requests admitted and running, and waiting for pages.</summary>
    public (int Running, int Waiting) Requests { get { lock (_lock) return (_scheduler.Running, _scheduler.Waiting); } }

    /// <summary>Forward steps run, rows they carried and the most sequences one step held.</summary>
    public StepCounters Counters => new(Interlocked.Read(ref _steps), Interlocked.Read(ref _rows), Volatile.Read(ref _peakSequences));

    public void Submit(SequenceRun run)
    {
        lock (_lock)
        {
            if (_stopping) throw new ObjectDisposedException(nameof(InferenceEngine));
            run.SubmittedAt = Stopwatch.GetTimestamp();
            run.TransfersAtStart = (_model.Backend.Transfers.BytesToDevice, _model.Backend.Transfers.BytesToHost);
            _scheduler.Add(run);
        }
        _wake.Release();
    }

    /// <summary>Asks the loop to end a request; it does so before its next step.</summary>
    public void Cancel(SequenceRun run)
    {
        run.Cancel();
        _wake.Release();
    }

    private void Run()
    {
        _model.Backend.BindToCurrentThread();
        while (true)
        {
            ScheduledStep step;
            List<SequenceRun> cancelled, exhausted = [];
            bool idle;
            lock (_lock)
            {
                if (_stopping) { foreach (var run in _scheduler.TakeAll()) End(run, FinishReason.Cancelled); return; }
                cancelled = _scheduler.TakeCancelled();
                try { step = _scheduler.Schedule(exhausted); }
                catch (Exception fault)
                {
                    // The bookkeeping itself failed (a bug): end every request with the reason rather than hang or crash.
                    foreach (var run in _scheduler.TakeAll()) { run.Message = fault.Message; End(run, FinishReason.Error, fault); }
                    step = new ScheduledStep([], []);
                }
                idle = !_scheduler.HasWork;
            }
            foreach (var run in cancelled) End(run, FinishReason.Cancelled);
            foreach (var run in exhausted)
            {
                run.Message = $"KV cache pool exhausted after {run.Generated} generated tokens: all {_cache.PageCount} pages ({_cache.PoolSize}) are in use; raise --kv-memory, shorten the prompt or lower --max-tokens";
                End(run, FinishReason.KvExhausted);
            }
            if (step.Entries.Count > 0) RunStepOrFail(step);
            else if (idle || cancelled.Count == 0 && exhausted.Count == 0) _wake.Wait();
        }
    }

    /// <summary>Runs a step; whatever escapes it fails that step's requests, never the loop (the others keep running).</summary>
    private void RunStepOrFail(ScheduledStep step)
    {
        try { RunStep(step); }
        catch (Exception fault)
        {
            foreach (var run in step.Runs.Where(r => r.Phase != RunPhase.Finished))
            {
                run.Message = fault.Message;
                End(run, FinishReason.Error, fault);
            }
        }
    }

    /// <summary>One batch through the model, then each sequence's token.</summary>
    private void RunStep(ScheduledStep step)
    {
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _rows, step.Entries.Sum(e => (long)e.Tokens.Length));
        if (step.Entries.Count > _peakSequences) Volatile.Write(ref _peakSequences, step.Entries.Count);
        ForwardLogits logits;
        try
        {
            logits = _model.Forward(step.Entries);
        }
        catch (Exception fault)
        {
            // A fault fails the requests of this step only; the pool gets their pages back.
            foreach (var run in step.Runs) { run.Message = fault.Message; End(run, FinishReason.Error, fault); }
            return;
        }

        var sampled = new List<SequenceRun>();
        var entryOf = new List<int>();
        for (int i = 0; i < step.Runs.Count; i++)
        {
            var run = step.Runs[i];
            var entry = step.Entries[i];
            run.Sequence!.LogicalLength += entry.Tokens.Length;
            if (entry.Step.IsPrefill)
            {
                run.ChunkDone();
                run.Stats.PrefillTokens = run.Prefilled;
                if (!entry.Step.IsLastPrefillChunk) continue;
            }
            sampled.Add(run);
            entryOf.Add(i);
        }
        if (sampled.Count == 0) return;

        (int Token, IReadOnlyList<Core.Sampling.TokenLogprob>? Top, string? Fault)[] chosen;
        try { chosen = _chooser.Choose(sampled, logits, entryOf); }
        catch (Exception fault)
        {
            foreach (var run in sampled) { run.Message = fault.Message; End(run, FinishReason.Error, fault); }
            return;
        }
        for (int i = 0; i < sampled.Count; i++)
        {
            var run = sampled[i];
            if (chosen[i].Fault is { } fault) { run.Message = fault; End(run, FinishReason.Error); continue; }
            try { Accept(run, chosen[i].Token, chosen[i].Top); }
            catch (Exception error)
            {
                // A request's own fault (its detokenizer, its stop strings) ends that request only.
                run.Message = error.Message;
                End(run, FinishReason.Error, error);
            }
        }
    }

    /// <summary>A sequence's new token: streams it, and ends the request when it was the last.</summary>
    private void Accept(SequenceRun run, int token, IReadOnlyList<Core.Sampling.TokenLogprob>? top)
    {
        long now = Stopwatch.GetTimestamp();
        if (run.Generated == 0) run.FirstTokenAt = now;
        run.Generated++;
        run.History.Add(token);
        run.PendingToken = token;
        run.Stats.GeneratedTokens = run.Generated;

        var options = run.Options;
        bool isEos = !options.IgnoreEos && run.Eos.Contains(token);
        string text = isEos || run.TextStream is null ? "" : run.Stops.Push(run.TextStream.Push(token));
        FinishReason? reason =
            isEos ? FinishReason.Eos
            : run.Stops.Stopped ? FinishReason.Stop
            : run.Generated >= options.MaxTokens ? FinishReason.Length
            : run.Sequence!.LogicalLength >= run.ContextLimit ? FinishReason.Context
            : null;
        // Text held back for a possible stop string is released when generation ends otherwise.
        if (reason is not null and not FinishReason.Stop && run.TextStream is not null)
            text += run.Stops.Push(run.TextStream.Flush()) + run.Stops.Flush();
        var sequence = run.Sequence!;
        var kv = options.ReportKvLengths ? sequence.Layers.Select(l => new LayerKvLength(sequence.LogicalLength, l.PhysicalLength)).ToArray() : null;
        run.Deliver(new GeneratedToken(token, text, top, kv), reason);
        if (reason is FinishReason r) End(run, r);
        else run.Phase = RunPhase.Decoding;
    }

    /// <summary>Ends a request: final statistics, its pages back to the pool (a session keeps its sequence), the closing event.</summary>
    private void End(SequenceRun run, FinishReason reason, Exception? fault = null)
    {
        if (run.Phase == RunPhase.Finished) return;
        lock (_lock) _scheduler.Remove(run);
        long now = Stopwatch.GetTimestamp();
        var stats = run.Stats;
        stats.QueueMs = SequenceRun.Ms(run.SubmittedAt, run.AdmittedAt == 0 ? now : run.AdmittedAt);
        if (run.FirstTokenAt != 0)
        {
            stats.TimeToFirstTokenMs = SequenceRun.Ms(run.SubmittedAt, run.FirstTokenAt);
            stats.PrefillMs = SequenceRun.Ms(run.AdmittedAt, run.FirstTokenAt);
            stats.DecodeMs = SequenceRun.Ms(run.FirstTokenAt, now);
        }
        else stats.PrefillMs = SequenceRun.Ms(run.AdmittedAt, now);
        if (run.Sequence is { } sequence)
        {
            stats.KvPagesUsed = sequence.PagesHeld;
            stats.KvBytes = sequence.PagesHeld * _cache.BytesPerPage;
            stats.Layers = sequence.Layers.Select(l => new LayerKvLength(sequence.LogicalLength, l.PhysicalLength)).ToArray();
            stats.KvPolicyLayers = sequence.Stats();
            if (!run.KeepsSequence || reason == FinishReason.Error) sequence.Dispose();
            else _cache.TrimReservation(sequence); // an idle session must not keep other requests out with pages it may never use
        }
        var transfers = _model.Backend.Transfers;
        stats.BytesToDevice = transfers.BytesToDevice - run.TransfersAtStart.ToDevice;
        stats.BytesToHost = transfers.BytesToHost - run.TransfersAtStart.ToHost;
        run.Finish(reason, fault);
    }

    public void Dispose()
    {
        lock (_lock) _stopping = true;
        _wake.Release();
        _thread.Join();
        _wake.Dispose();
        _chooser.Dispose();
    }
}
