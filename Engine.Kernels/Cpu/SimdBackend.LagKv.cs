using System.Runtime.CompilerServices;
using Engine.Core;
using Engine.Core.Kv.LagKv;

namespace Engine.Kernels.Cpu;

/// <summary>LagKV's ops (<see cref="ILagKvOps"/>) on the SIMD backend's host memory.</summary>
public sealed unsafe partial class SimdBackend : ILagKvOps
{
    public void LagKvScore(KvPool pool, DeviceArray pageTable, LagKvCompression c, float valueWeight, DeviceArray scores)
    {
        if (c.Partitions == 0) return;
        int* pages = CheckedPageTable(pool, pageTable, c.LengthBefore);
        Require(scores, DType.F32, (long)pool.KvHeads * c.Partitions * c.LagSize, nameof(scores));
        var layout = pool.Layout;
        void* keys = PointerOf(pool.Keys), values = PointerOf(pool.Values);
        float* s = PointerOf<float>(scores);
        ForRanges((long)pool.KvHeads * c.Partitions, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long job = start; job < end; job++)
                LagKvCpuKernels.ScorePartition(layout, keys, values, pages, c, (int)(job / c.Partitions), (int)(job % c.Partitions),
                    valueWeight, s + job * c.LagSize);
        });
    }

    public void LagKvSelect(DeviceArray scores, int kvHeads, LagKvCompression c, DeviceArray kept)
    {
        if (c.Partitions == 0) return;
        long jobs = (long)kvHeads * c.Partitions;
        Require(scores, DType.F32, jobs * c.LagSize, nameof(scores));
        Require(kept, DType.I32, jobs * c.Keep, nameof(kept));
        float* s = PointerOf<float>(scores);
        int* k = PointerOf<int>(kept);
        ForRanges(jobs, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long job = start; job < end; job++)
                LagKvCpuKernels.SelectPartition(s + job * c.LagSize, c.LagSize, c.Keep, k + job * c.Keep);
        });
    }

    public void LagKvPressScores(DeviceArray partitionScores, int kvHeads, LagKvCompression c, DeviceArray pressScores)
    {
        long perHead = (long)c.Partitions * c.LagSize;
        Require(partitionScores, DType.F32, kvHeads * perHead, nameof(partitionScores));
        Require(pressScores, DType.F32, (long)kvHeads * c.LengthBefore, nameof(pressScores));
        float* source = PointerOf<float>(partitionScores), target = PointerOf<float>(pressScores);
        ForRanges(kvHeads, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long head = start; head < end; head++)
                LagKvCpuKernels.PressScoresHead(source + head * perHead, c, target + head * c.LengthBefore);
        });
    }

    /// <summary>Moves in place (host memory, ascending order is safe): the scratch array is not used.</summary>
    public void LagKvCompact(KvPool pool, DeviceArray pageTable, LagKvCompression c, DeviceArray kept, DeviceArray scratch)
    {
        int* pages = CheckedPageTable(pool, pageTable, c.LengthBefore);
        Require(kept, DType.I32, (long)pool.KvHeads * c.Partitions * c.Keep, nameof(kept));
        var layout = pool.Layout;
        void* keys = PointerOf(pool.Keys), values = PointerOf(pool.Values);
        int* k = PointerOf<int>(kept);
        ForRanges(pool.KvHeads, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long head = start; head < end; head++)
                LagKvCpuKernels.CompactHead(layout, keys, values, pages, c, (int)head, k);
        });
    }
}
