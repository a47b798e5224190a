using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Models.Scheduling;

/// <summary>One step's work: each sequence's rows (a decode token or a whole prefill chunk).</summary>
internal sealed record ScheduledStep(IReadOnlyList<SequenceRun> Runs, IReadOnlyList<BatchEntry> Entries);

/// <summary>
/// Continuous batching (nano-vllm's scheduler, with Sarathi-style chunked prefill): a waiting queue
/// and a running set. Each step takes every decoding sequence's next token, then fills the rest of a
/// token budget with whole prefill chunks of admitted prompts, so a long prompt never stalls the
/// others' decode for more than one chunk. A sequence's chunks follow its own schedule (a LagKV grid,
/// a fixed size, or the whole prompt) whatever shares the step, so its results never depend on its
/// neighbours; a chunk larger than the budget runs as the step's only prefill.
/// Admission reserves pages: a request is admitted, in arrival order, once the pool can promise it
/// every page it may ever hold (its prompt plus max tokens in every layer, capped at the pool), so a
/// running sequence never waits for pages and nothing is preempted (recomputing a compressed
/// sequence could not rebuild its kept set). Only a request whose worst case exceeds the whole pool
/// can run out; it then ends with <see cref="FinishReason.KvExhausted"/>, keeping its tokens.
/// Not thread-safe: the engine loop calls it under its lock.
/// </summary>
internal sealed class Scheduler(PagedKvCache cache, int tokenBudget, int maxSequences)
{
    private readonly LinkedList<SequenceRun> _waiting = new();
    private readonly List<SequenceRun> _running = [];

    public int Waiting => _waiting.Count;
    public int Running => _running.Count;
    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;

    public void Add(SequenceRun run) => _waiting.AddLast(run);

    /// <summary>Requests that were asked to stop, taken out of the queues (the loop finishes them).</summary>
    public List<SequenceRun> TakeCancelled()
    {
        var cancelled = _running.Where(r => r.CancelRequested).ToList();
        _running.RemoveAll(r => r.CancelRequested);
        for (var node = _waiting.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.CancelRequested) { cancelled.Add(node.Value); _waiting.Remove(node); }
            node = next;
        }
        return cancelled;
    }

    /// <summary>Every request still queued or running, taken out (the engine is shutting down).</summary>
    public List<SequenceRun> TakeAll()
    {
        var all = _running.Concat(_waiting).ToList();
        _running.Clear();
        _waiting.Clear();
        return all;
    }

    /// <summary>Takes a finished request out of the running set.</summary>
    public void Remove(SequenceRun run) => _running.Remove(run);

    /// <summary>
    /// The next step: admits what the pool can promise, then the decode rows and prefill chunks
    /// within the token budget, with their slots appended to their sequences (pages allocated).
    /// Sequences that cannot get the pages for their rows (only possible past their reservation) are
    /// returned in <paramref name="exhausted"/> instead.
    /// </summary>
    public ScheduledStep Schedule(List<SequenceRun> exhausted)
    {
        Admit();
        var runs = new List<SequenceRun>();
        var entries = new List<BatchEntry>();
        int budget = tokenBudget;
        foreach (var run in _running.Where(r => r.Phase == RunPhase.Decoding).ToList())
        {
            if (!run.Sequence!.CanAppend(1)) { exhausted.Add(run); _running.Remove(run); continue; }
            run.Sequence.Append(1);
            runs.Add(run);
            entries.Add(new BatchEntry(run.Sequence, new[] { run.PendingToken }, ForwardStep.Decode));
            budget--;
        }
        bool prefillAdded = false;
        foreach (var run in _running.Where(r => r.Phase == RunPhase.Prefilling).ToList())
        {
            int chunk = run.NextChunk;
            if (chunk > budget && prefillAdded) continue;
            if (!run.Sequence!.CanAppend(chunk)) { exhausted.Add(run); _running.Remove(run); continue; }
            run.Sequence.Append(chunk);
            runs.Add(run);
            entries.Add(new BatchEntry(run.Sequence, run.Prompt.AsMemory(run.Prefilled, chunk), new ForwardStep(true, run.IsLastChunk)));
            budget -= chunk;
            prefillAdded = true;
            if (budget <= 0) break;
        }
        return new ScheduledStep(runs, entries);
    }

    /// <summary>Admits waiting requests in arrival order while the pool can reserve their pages.</summary>
    private void Admit()
    {
        while (_waiting.First is { } node && _running.Count < maxSequences)
        {
            var run = node.Value;
            int need = ReservationFor(run);
            if (!cache.CanReserve(need))
            {
                if (_running.Count > 0) break; // first come, first served: no overtaking; running sequences will free pages
                // Nothing runs, yet the pool cannot promise this much (open sessions hold pages): start with what
                // is free rather than wait for ever; the request ends with kv_exhausted if it runs out.
                need = Math.Max(0, cache.UnreservedFreePages);
            }
            _waiting.RemoveFirst();
            if (run.Sequence is null) run.Sequence = cache.CreateSequence(need, run.Options.KvPolicy);
            else cache.ExtendReservation(run.Sequence, need);
            run.Phase = RunPhase.Prefilling;
            run.AdmittedAt = System.Diagnostics.Stopwatch.GetTimestamp();
            _running.Add(run);
        }
    }

    /// <summary>Pages to promise a request: every layer at its longest, capped at the pool; a continued sequence needs only what it lacks.</summary>
    private int ReservationFor(SequenceRun run)
    {
        int worst = cache.PagesForSlots(run.MaxLogicalLength) * cache.Layers;
        int held = run.Sequence?.ReservedPages ?? 0;
        return Math.Max(0, Math.Min(worst, cache.PageCount) - held);
    }
}
