using System.Runtime.ExceptionServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Persistent worker threads for the SIMD backend's data-parallel ops. <see cref="For"/> hands out item
/// indices dynamically (the calling thread works too) and returns when all items are done. Workers spin
/// briefly between ops (decode issues hundreds of small ops per token) and then sleep.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Thread[] _workers;
    private readonly object _wake = new();
    private readonly object _dispatch = new();
    private Action<int>? _body;
    private int _itemCount;
    private int _nextItem;
    private int _busyWorkers;
    private long _generation;
    private bool _disposed;
    private Exception? _error;

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
            _body = body;
            _itemCount = items;
            _nextItem = 0;
            _error = null;
            Volatile.Write(ref _busyWorkers, _workers.Length);
            lock (_wake)
            {
                _generation++;
                Monitor.PulseAll(_wake);
            }
            RunItems();
            var spin = new SpinWait();
            while (Volatile.Read(ref _busyWorkers) != 0) spin.SpinOnce(sleep1Threshold: -1);
            _body = null;
            if (_error is { } error) ExceptionDispatchInfo.Capture(error).Throw();
        }
    }

    private void RunItems()
    {
        Action<int> body = _body!;
        int count = _itemCount;
        int i;
        while ((i = Interlocked.Increment(ref _nextItem) - 1) < count)
        {
            try { body(i); }
            catch (Exception e) { Interlocked.CompareExchange(ref _error, e, null); }
        }
    }

    private void WorkerLoop()
    {
        long seen = 0;
        while (true)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _generation) == seen && !spin.NextSpinWillYield) spin.SpinOnce();
            lock (_wake)
            {
                while (_generation == seen && !_disposed) Monitor.Wait(_wake);
                if (_disposed) return;
                seen = _generation;
            }
            RunItems();
            Interlocked.Decrement(ref _busyWorkers);
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
