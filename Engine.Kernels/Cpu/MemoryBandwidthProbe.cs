using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;

namespace Engine.Kernels.Cpu;

/// <summary>One bandwidth measurement: the median and spread of several timed passes.</summary>
public sealed record BandwidthMeasurement(double MedianGbps, double MinGbps, double MaxGbps, long BufferBytes, int Threads, int Repetitions);

/// <summary>
/// Measures the machine's sustained memory read bandwidth: a buffer far larger than the caches is read
/// by all threads at once (each a contiguous share), several times; the median pass is reported. This is
/// the "measured_bandwidth_gbps" a decode roofline fraction divides by.
/// </summary>
public static unsafe class MemoryBandwidthProbe
{
    public const long DefaultBufferBytes = 1L << 30;

    /// <summary>Sums a range with several independent vector accumulators, so loads, not adds, set the pace.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float ReadSum(float* p, long n)
    {
        int width = Vector256<float>.Count;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        long i = 0;
        for (; i <= n - 4 * width; i += 4 * width)
        {
            a0 += Vector256.Load(p + i);
            a1 += Vector256.Load(p + i + width);
            a2 += Vector256.Load(p + i + 2 * width);
            a3 += Vector256.Load(p + i + 3 * width);
        }
        float sum = Vector256.Sum(a0 + a1 + a2 + a3);
        for (; i < n; i++) sum += p[i];
        return sum;
    }

    /// <param name="bufferBytes">Bytes read per pass (default 1 GiB; must dwarf the last-level cache).</param>
    /// <param name="threads">Reader threads (0: all cores).</param>
    /// <param name="repetitions">Timed passes (one untimed warm-up pass precedes them).</param>
    public static BandwidthMeasurement MeasureRead(long bufferBytes = DefaultBufferBytes, int threads = 0, int repetitions = 5)
    {
        if (bufferBytes < 1 << 20 || repetitions < 1) throw new ArgumentOutOfRangeException(nameof(bufferBytes));
        threads = threads == 0 ? Environment.ProcessorCount : threads;
        long floats = bufferBytes / sizeof(float);
        float* buffer = (float*)NativeMemory.AlignedAlloc((nuint)(floats * sizeof(float)), 64);
        try
        {
            using var pool = new WorkerPool(threads);
            long perThread = (floats + threads - 1) / threads;
            // Distinct non-zero values so the pages are really backed (not the shared zero page).
            pool.For(threads, t =>
            {
                long start = t * perThread, end = Math.Min(floats, start + perThread);
                for (long i = start; i < end; i += 1 << 24)
                    new Span<float>(buffer + i, (int)Math.Min(1 << 24, end - i)).Fill(t + 1);
            });
            var sums = new float[threads];
            void Pass() => pool.For(threads, t =>
            {
                long start = t * perThread, end = Math.Min(floats, start + perThread);
                sums[t] = ReadSum(buffer + start, end - start);
            });
            Pass();
            var gbps = new double[repetitions];
            for (int r = 0; r < repetitions; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Pass();
                gbps[r] = floats * sizeof(float) / Stopwatch.GetElapsedTime(t0).TotalSeconds / 1e9;
            }
            Array.Sort(gbps);
            return new BandwidthMeasurement(gbps[repetitions / 2], gbps[0], gbps[^1], floats * sizeof(float), threads, repetitions);
        }
        finally { NativeMemory.AlignedFree(buffer); }
    }
}
