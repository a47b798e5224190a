using Engine.Core;
using Engine.Core.Kv.LagKv;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// LagKV's ops (<see cref="ILagKvOps"/>) on the device: statistics, scores, ranks and the compaction
/// all run as kernels (LagKvKernels.cs); nothing of the cache leaves the device. Intermediate arrays
/// are kept between calls and grown on demand.
/// </summary>
public sealed partial class IlgpuBackend : ILagKvOps
{
    private DeviceArray? _lagKvFloats, _lagKvRanks;

    public void LagKvScore(KvPool pool, DeviceArray pageTable, LagKvCompression c, float valueWeight, DeviceArray scores)
    {
        if (c.Partitions == 0) return;
        var g = LagKvGrid.Of(pool.Layout, c, valueWeight);
        CheckLagKvLayer(pool, pageTable, c);
        Require(scores.DType == DType.F32 && scores.Length >= (long)g.Jobs * g.Lag, "LagKV scores must be F32 [kvHeads, partitions, lag]");

        long statsLength = (long)g.Jobs * 2 * pool.HeadDim, stdLength = (long)g.Jobs * 2 * g.Lag, softmaxLength = (long)g.Jobs * 4;
        DeviceArray temp = LagKvTemp(ref _lagKvFloats, DType.F32, 2 * statsLength + stdLength + softmaxLength);
        ArrayView<float> all = ViewOf<float>(temp);
        ArrayView<float> lo = all.SubView(0, statsLength), hi = all.SubView(statsLength, statsLength);
        ArrayView<float> std = all.SubView(2 * statsLength, stdLength), softmax = all.SubView(2 * statsLength + stdLength, softmaxLength);
        ArrayView<int> pages = ViewOf<int>(pageTable);

        switch (pool.DType)
        {
            case DType.F32: ScoreStatistics<float, F32Format>(pool, pages, g, lo, hi, std); break;
            case DType.F16: ScoreStatistics<ushort, F16Format>(pool, pages, g, lo, hi, std); break;
            case DType.BF16: ScoreStatistics<ushort, BF16Format>(pool, pages, g, lo, hi, std); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
        Kernel<LagKvGrid, ArrayView<float>, ArrayView<float>>(LagKvSoftmaxStatsKernel)(GridStride((long)g.Jobs * 2), g, std, softmax);
        Kernel<LagKvGrid, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LagKvScoreKernel)(GridStride((long)g.Jobs * g.Lag), g, std, softmax, ViewOf<float>(scores));
    }

    private void ScoreStatistics<TP, TF>(KvPool pool, ArrayView<int> pages, LagKvGrid g, ArrayView<float> lo, ArrayView<float> hi, ArrayView<float> std)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        ArrayView<TP> keys = ViewOf<TP>(pool.Keys), values = ViewOf<TP>(pool.Values);
        Kernel<ArrayView<TP>, ArrayView<TP>, ArrayView<int>, LagKvGrid, ArrayView<float>, ArrayView<float>>(LagKvMinMaxKernel<TP, TF>)(
            new KernelConfig(g.Jobs * 2 * ((g.Geometry.HeadDim + LagKvMinMaxChannels - 1) / LagKvMinMaxChannels), GroupSize), keys, values, pages, g, lo, hi);
        Kernel<ArrayView<TP>, ArrayView<TP>, ArrayView<int>, LagKvGrid, ArrayView<float>, ArrayView<float>, ArrayView<float>>(LagKvStdKernel<TP, TF>)(
            GridStride(std.Length), keys, values, pages, g, lo, hi, std);
    }

    public void LagKvSelect(DeviceArray scores, int kvHeads, LagKvCompression c, DeviceArray kept)
    {
        if (c.Partitions == 0) return;
        var g = LagKvGrid.Of(new KvPoolLayout(kvHeads, 0, 0, DType.F32), c, 0);
        long tokens = (long)g.Jobs * g.Lag;
        Require(scores.DType == DType.F32 && scores.Length >= tokens, "LagKV scores must be F32 [kvHeads, partitions, lag]");
        Require(kept.DType == DType.I32 && kept.Length >= (long)g.Jobs * g.Keep, "LagKV kept offsets must be I32 [kvHeads, partitions, keep]");
        Require(c.Keep >= 1 && c.Keep <= c.LagSize, "LagKV keeps between 1 and lag tokens per partition");
        ArrayView<int> rank = ViewOf<int>(LagKvTemp(ref _lagKvRanks, DType.I32, tokens)).SubView(0, tokens);
        var config = GridStride(tokens);
        Kernel<LagKvGrid, ArrayView<float>, ArrayView<int>>(LagKvRankKernel)(config, g, ViewOf<float>(scores), rank);
        Kernel<LagKvGrid, ArrayView<int>, ArrayView<int>>(LagKvKeepKernel)(config, g, rank, ViewOf<int>(kept));
    }

    public void LagKvPressScores(DeviceArray partitionScores, int kvHeads, LagKvCompression c, DeviceArray pressScores)
    {
        var g = LagKvGrid.Of(new KvPoolLayout(kvHeads, 0, 0, DType.F32), c, 0);
        Require(partitionScores.DType == DType.F32 && partitionScores.Length >= (long)g.Jobs * g.Lag, "LagKV partition scores must be F32 [kvHeads, partitions, lag]");
        Require(pressScores.DType == DType.F32 && pressScores.Length >= (long)kvHeads * c.LengthBefore, "LagKV press scores must be F32 [kvHeads, length]");
        if ((long)kvHeads * c.LengthBefore == 0) return;
        Kernel<LagKvGrid, ArrayView<float>, ArrayView<float>>(LagKvPressScoresKernel)(GridStride((long)kvHeads * c.LengthBefore), g,
            ViewOf<float>(partitionScores), ViewOf<float>(pressScores));
    }

    public void LagKvCompact(KvPool pool, DeviceArray pageTable, LagKvCompression c, DeviceArray kept, DeviceArray scratch)
    {
        var g = LagKvGrid.Of(pool.Layout, c, 0);
        CheckLagKvLayer(pool, pageTable, c);
        Require(kept.DType == DType.I32 && kept.Length >= (long)g.Jobs * g.Keep, "LagKV kept offsets must be I32 [kvHeads, partitions, keep]");
        Require(scratch.DType == pool.DType && scratch.Length >= ILagKvOps.LagKvCompactScratchElements(pool, c), "LagKV compaction scratch too small or of another dtype");
        long elements = (long)pool.KvHeads * g.Moved * pool.HeadDim;
        if (elements == 0) return;
        var config = GridStride(elements);
        if (pool.DType == DType.F32) Compact<float>(pool, pageTable, kept, scratch, g, config);
        else Compact<ushort>(pool, pageTable, kept, scratch, g, config);
    }

    private void Compact<TP>(KvPool pool, DeviceArray pageTable, DeviceArray kept, DeviceArray scratch, LagKvGrid g, KernelConfig config)
        where TP : unmanaged
    {
        ArrayView<TP> keys = ViewOf<TP>(pool.Keys), values = ViewOf<TP>(pool.Values), buffer = ViewOf<TP>(scratch);
        ArrayView<int> pages = ViewOf<int>(pageTable);
        Kernel<ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<int>, ArrayView<TP>, LagKvGrid>(LagKvGatherKernel<TP>)(
            config, keys, values, pages, ViewOf<int>(kept), buffer, g);
        Kernel<ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<TP>, LagKvGrid>(LagKvScatterKernel<TP>)(
            config, keys, values, pages, buffer, g);
    }

    private static void CheckLagKvLayer(KvPool pool, DeviceArray pageTable, LagKvCompression c)
    {
        Require(pageTable.DType == DType.I32, "page tables are I32");
        Require((long)c.LengthBefore <= pageTable.Length * pool.PageSize,
            $"LagKV compression over {c.LengthBefore} slots beyond the {pageTable.Length} pages of the page table");
    }

    /// <summary>A grow-only intermediate array of at least <paramref name="length"/> elements.</summary>
    private DeviceArray LagKvTemp(ref DeviceArray? current, DType dtype, long length)
    {
        if (current is null || current.Length < length)
        {
            current?.Dispose();
            current = Allocate(dtype, Math.Max(length, current is null ? 0 : current.Length * 2));
        }
        return current;
    }
}
