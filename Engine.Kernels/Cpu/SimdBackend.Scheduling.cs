using System.Runtime.CompilerServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// How ops are cut into tasks for the worker pool. Small ops run on the calling thread: waking workers
/// costs microseconds, and a tiny model's decode step is hundreds of such ops.
/// </summary>
public sealed partial class SimdBackend
{
    /// <summary>Below this many elements per thread an element-wise op is not worth splitting.</summary>
    private const long MinElementsPerTask = 1 << 14;
    /// <summary>Multiply-adds below which an op runs on the calling thread alone.</summary>
    private const long MinParallelWork = 1 << 15;

    /// <summary>Splits [0, count) into contiguous ranges, one per task, and runs them on the pool.</summary>
    private void ForRanges(long count, long minPerTask, Action<long, long> body)
    {
        long tasks = Math.Clamp(count / Math.Max(1, minPerTask), 1, Threads);
        long per = (count + tasks - 1) / tasks;
        _pool.For((int)tasks, t =>
        {
            long start = t * per, end = Math.Min(count, start + per);
            if (start < end) body(start, end);
        });
    }

    /// <summary>Runs body(i) for i &lt; items: on the pool, or inline when <paramref name="totalWork"/> (multiply-adds) is small.</summary>
    private void RunTasks(int items, long totalWork, Action<int> body)
    {
        if (totalWork < MinParallelWork || items == 1)
            for (int i = 0; i < items; i++) body(i);
        else
            _pool.For(items, body);
    }
}
