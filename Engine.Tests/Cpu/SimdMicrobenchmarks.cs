using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using NUnit.Framework;

namespace Engine.Tests.Cpu;

/// <summary>
/// Hand-run measurements for tuning the SIMD kernels (Explicit: never part of a normal run, and they
/// assert nothing about speed). Run in Release:
/// dotnet test Engine.Tests -c Release --filter "FullyQualifiedName~SimdMicrobenchmarks" --logger "console;verbosity=detailed"
/// Environment: SIMD_BENCH_THREADS (0: all cores), SIMD_BENCH_DTYPE (bf16), SIMD_BENCH_ROWS (512).
/// </summary>
[TestFixture, Explicit("hand-run benchmark")]
public sealed class SimdMicrobenchmarks
{
    private static int Threads => int.TryParse(Environment.GetEnvironmentVariable("SIMD_BENCH_THREADS"), out int t) ? t : 0;
    private static DType WeightType => DTypes.TryParse(Environment.GetEnvironmentVariable("SIMD_BENCH_DTYPE"), out var d) ? d : DType.BF16;
    private static int PrefillRows => int.TryParse(Environment.GetEnvironmentVariable("SIMD_BENCH_ROWS"), out int r) ? r : 512;

    [Test]
    public void MemoryReadBandwidth()
    {
        var m = MemoryBandwidthProbe.MeasureRead(256L << 20, Threads, 5);
        TestContext.Out.WriteLine($"read bandwidth: median {m.MedianGbps:F1} GB/s (min {m.MinGbps:F1}, max {m.MaxGbps:F1}), {m.BufferBytes >> 20} MiB, {m.Threads} threads");
    }

    [Test]
    public void DecodeSweepOverAllLayers()
    {
        using var backend = new SimdBackend(Threads);
        var (ms, bytes) = LinearMicrobenchmark.RunDecodeSweep(backend, 24, 896, 4864, 896, 128, 151936, WeightType, 9);
        TestContext.Out.WriteLine($"{backend.Name}: Qwen2.5-0.5B decode sweep {ms:F2} ms/token, {bytes / 1e6:F0} MB, {bytes / (ms / 1e3) / 1e9:F1} GB/s");
    }

    [Test]
    public void LinearDecodeAndPrefill()
    {
        using var backend = new SimdBackend(Threads);
        TestContext.Out.WriteLine($"{backend.Name}, weights {WeightType}");
        Action<LinearTiming> print = t => TestContext.Out.WriteLine(
            $"{t.Name,-10} rows={t.Rows,4} {t.InDim,6}x{t.OutDim,-7} {t.MedianMs,9:F3} ms {t.WeightGbps,7:F1} GB/s {t.Gflops,7:F1} GFLOP/s");
        LinearMicrobenchmark.Run(backend, LinearMicrobenchmark.Qwen25HalfBShapes, WeightType, 1, 21, print);
        LinearMicrobenchmark.Run(backend, LinearMicrobenchmark.Qwen25HalfBShapes.Where(s => s.Name != "lm_head"), WeightType, PrefillRows, 3, print);
    }
}
