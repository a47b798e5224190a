using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Persistent worker threads for the SIMD backend's data-parallel ops. <see cref="For"/> publishes a job
/// whose items are claimed dynamically by whoever is running (the calling thread works too) and returns
/// when every item has completed: a worker that is descheduled before it claims anything does not hold
/// the op up. Workers spin briefly between ops (decode issues hundreds of small ops per token), then sleep.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    /// <summary>One For call's items; immutable but for its counters, so a late worker cannot mix up jobs.</summary>
    private sealed class Job(Action<int> body, int count)
    {
        public readonly Action<int> Body = body;
        public readonly int Count = count;
        public int Next;
        public int Completed;
        public Exception? Error;

        /// <summary>Claims and runs items until none are left.</summary>
        public void RunItems()
        {
            int i;
            while ((i = Interlocked.Increment(ref Next) - 1) < Count)
            {
                try { Body(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref Error, e, null); }
                Interlocked.Increment(ref Completed);
            }
        }
    }

    /// <summary>How long an idle worker spins before it sleeps: longer than the gap between a decode step's ops.</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 1000; // 1 ms
    /// <summary>Pause instructions between two looks at the generation counter.</summary>
    private const int SpinIterations = 16;

    private readonly Thread[] _workers;
    private readonly object _wake = new();
    private readonly object _dispatch = new();
    private Job? _current;
    private long _generation;
    private bool _disposed;

    public WorkerPool(int threads)
    {
        Threads = Math.Max(1, threads);
        _workers = new Thread[Threads - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"cpu-simd worker {i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>Threads that run items, the caller included.</summary>
    public int Threads { get; }

    /// <summary>Runs body(i) for every i in [0, items) across the pool; rethrows the first failure.</summary>
    public void For(int items, Action<int> body)
    {
        if (items <= 0) return;
        if (_workers.Length == 0 || items == 1)
        {
            for (int i = 0; i < items; i++) body(i);
            return;
        }
        lock (_dispatch)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var job = new Job(body, items);
            lock (_wake)
            {
                _current = job;
                _generation++;
                Monitor.PulseAll(_wake);
            }
            job.RunItems();
            var spin = new SpinWait();
            while (Volatile.Read(ref job.Completed) < items) spin.SpinOnce(sleep1Threshold: -1);
            _current = null;
            if (job.Error is { } error) ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            // Spin (pause instructions, no yield) for a bounded time before sleeping: decode issues an op
            // every few microseconds, and waking a sleeping thread costs tens of microseconds per op.
            long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref _generation) == seen && Stopwatch.GetTimestamp() < spinUntil) Thread.SpinWait(SpinIterations);
            Job? job;
            lock (_wake)
            {
                while (_generation == seen && !_disposed) Monitor.Wait(_wake);
                if (_disposed) return;
                seen = _generation;
                job = _current;
            }
            job?.RunItems();
        }
    }

    public void Dispose()
    {
        lock (_dispatch)
        {
            lock (_wake)
            {
                _disposed = true;
                Monitor.PulseAll(_wake);
            }
        }
        foreach (var worker in _workers) worker.Join();
    }
}
