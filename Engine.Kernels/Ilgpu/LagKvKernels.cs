using ILGPU;
using ILGPU.Algorithms;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// LagKV's kernels (docs/lagkv.md): statistics in fp32 whatever the pool dtype; every kernel but the
/// min/max (groups over tokens) is a grid-stride loop over independent elements, so the same source runs on
/// CUDA, OpenCL and the CPU simulator. Jobs are (KV head, partition) pairs: job = head * partitions + p. The launchers are in
/// IlgpuBackend.LagKv.cs.
/// </summary>
public sealed partial class IlgpuBackend
{
    private static long GridStrideStart => Grid.GlobalIndex.X;
    private static long GridStrideStep => (long)Grid.DimX * Group.DimX;

    /// <summary>Channels per min/max group: a warp's worth, so each token row is read in coalesced 32-channel runs.</summary>
    internal const int LagKvMinMaxChannels = 32;

    /// <summary>
    /// lo/hi [jobs, 2 (K, V), dim]: per-channel min and max over the reference (next) partition. One group per
    /// (job, K or V, block of 32 channels); its threads are 32 channels x (threads / 32) token lanes, each lane
    /// striding over the partition's tokens; the lanes' results are then merged in shared memory. Parallel over
    /// tokens, so a 1024-token partition takes a few dozen loads per thread rather than 1024.
    /// </summary>
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void LagKvMinMaxKernel<TP, TF>(ArrayView<TP> poolKeys, ArrayView<TP> poolValues, ArrayView<int> pageTable,
        LagKvGrid g, ArrayView<float> lo, ArrayView<float> hi)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var mins = SharedMemory.Allocate<float>(MaxAttentionGroup);
        var maxes = SharedMemory.Allocate<float>(MaxAttentionGroup);
        int dim = g.Geometry.HeadDim;
        int channelBlocks = (dim + LagKvMinMaxChannels - 1) / LagKvMinMaxChannels;
        int zJob = Grid.IdxX / channelBlocks, channelBlock = Grid.IdxX % channelBlocks;
        int z = zJob % 2, job = zJob / 2;
        int head = job / g.Partitions, p = job % g.Partitions;
        int first = g.WindowStart + (p + 1) * g.Lag;
        int channel = Group.IdxX % LagKvMinMaxChannels, lane = Group.IdxX / LagKvMinMaxChannels, lanes = Group.DimX / LagKvMinMaxChannels;
        int d = channelBlock * LagKvMinMaxChannels + channel;
        ArrayView<TP> pool = z == 0 ? poolKeys : poolValues;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        if (d < dim)
            for (int t = lane; t < g.Lag; t += lanes)
            {
                float v = default(TF).Widen(pool[g.SlotOffset(pageTable, head, first + t) + d]);
                min = XMath.Min(min, v);
                max = XMath.Max(max, v);
            }
        mins[Group.IdxX] = min;
        maxes[Group.IdxX] = max;
        Group.Barrier();
        if (lane == 0 && d < dim)
        {
            for (int l = 1; l < lanes; l++)
            {
                min = XMath.Min(min, mins[l * LagKvMinMaxChannels + channel]);
                max = XMath.Max(max, maxes[l * LagKvMinMaxChannels + channel]);
            }
            lo[(long)zJob * dim + d] = min;
            hi[(long)zJob * dim + d] = max;
        }
    }

    /// <summary>std [jobs, 2, lag]: unbiased std of each token's channels after min-max normalisation (hi == lo gives 0).</summary>
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void LagKvStdKernel<TP, TF>(ArrayView<TP> poolKeys, ArrayView<TP> poolValues, ArrayView<int> pageTable,
        LagKvGrid g, ArrayView<float> lo, ArrayView<float> hi, ArrayView<float> std)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        int dim = g.Geometry.HeadDim;
        long total = (long)g.Jobs * 2 * g.Lag;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            int t = (int)(i % g.Lag);
            long zJob = i / g.Lag;
            int z = (int)(zJob % 2), job = (int)(zJob / 2);
            int head = job / g.Partitions, p = job % g.Partitions;
            ArrayView<TP> pool = z == 0 ? poolKeys : poolValues;
            long row = g.SlotOffset(pageTable, head, g.WindowStart + p * g.Lag + t);
            long stats = zJob * dim;
            float mean = 0;
            for (int d = 0; d < dim; d++) mean += Normalised(default(TF).Widen(pool[row + d]), lo[stats + d], hi[stats + d]);
            mean /= dim;
            float squares = 0;
            for (int d = 0; d < dim; d++)
            {
                float x = Normalised(default(TF).Widen(pool[row + d]), lo[stats + d], hi[stats + d]) - mean;
                squares += x * x;
            }
            std[i] = XMath.Sqrt(squares / (dim - 1));
        }
    }

    private static float Normalised(float x, float lo, float hi)
    {
        float range = hi - lo;
        return range == 0 ? 0 : (x - lo) / range;
    }

    /// <summary>softmaxStats [jobs, 2, 2]: the max and the sum of exp(std - max) over each partition's tokens.</summary>
    [KernelInstance]
    internal static void LagKvSoftmaxStatsKernel(LagKvGrid g, ArrayView<float> std, ArrayView<float> softmaxStats)
    {
        long total = (long)g.Jobs * 2;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            long first = i * g.Lag;
            float max = float.NegativeInfinity;
            for (int t = 0; t < g.Lag; t++) max = XMath.Max(max, std[first + t]);
            float sum = 0;
            for (int t = 0; t < g.Lag; t++) sum += XMath.Exp(std[first + t] - max);
            softmaxStats[i * 2] = max;
            softmaxStats[i * 2 + 1] = sum;
        }
    }

    /// <summary>scores [jobs, lag] = q_K + w_V * q_V.</summary>
    [KernelInstance]
    internal static void LagKvScoreKernel(LagKvGrid g, ArrayView<float> std, ArrayView<float> softmaxStats, ArrayView<float> scores)
    {
        long total = (long)g.Jobs * g.Lag;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            int t = (int)(i % g.Lag);
            long job = i / g.Lag;
            long k = job * 2, v = job * 2 + 1;
            float qk = XMath.Exp(std[k * g.Lag + t] - softmaxStats[k * 2]) / softmaxStats[k * 2 + 1];
            float qv = XMath.Exp(std[v * g.Lag + t] - softmaxStats[v * 2]) / softmaxStats[v * 2 + 1];
            scores[i] = qk + g.ValueWeight * qv;
        }
    }

    /// <summary>rank [jobs, lag]: how many tokens of the partition beat this one (higher score, or equal at a lower offset).</summary>
    [KernelInstance]
    internal static void LagKvRankKernel(LagKvGrid g, ArrayView<float> scores, ArrayView<int> rank)
    {
        long total = (long)g.Jobs * g.Lag;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            int t = (int)(i % g.Lag);
            long first = i - t;
            float s = scores[i];
            int beaten = 0;
            for (int u = 0; u < g.Lag; u++)
            {
                float other = scores[first + u];
                if (other > s || (other == s && u < t)) beaten++;
            }
            rank[i] = beaten;
        }
    }

    /// <summary>kept [jobs, keep]: the offsets ranked below keep, in ascending order (a kept token's place is the number of kept tokens before it).</summary>
    [KernelInstance]
    internal static void LagKvKeepKernel(LagKvGrid g, ArrayView<int> rank, ArrayView<int> kept)
    {
        long total = (long)g.Jobs * g.Lag;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            if (rank[i] >= g.Keep) continue;
            int t = (int)(i % g.Lag);
            long first = i - t, job = i / g.Lag;
            int place = 0;
            for (int u = 0; u < t; u++) if (rank[first + u] < g.Keep) place++;
            kept[job * g.Keep + place] = t;
        }
    }

    /// <summary>pressScores [kvHeads, LengthBefore]: 1 for sink and tail, (L - 1 - rank) / L inside a scored partition.</summary>
    [KernelInstance]
    internal static void LagKvPressScoresKernel(LagKvGrid g, ArrayView<float> partitionScores, ArrayView<float> pressScores)
    {
        int length = g.WindowStart + g.Partitions * g.Lag + g.TailLength;
        long total = (long)g.Geometry.KvHeads * length;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            int slot = (int)(i % length), head = (int)(i / length);
            int offset = slot - g.WindowStart;
            if (offset < 0 || offset >= g.Partitions * g.Lag) { pressScores[i] = 1f; continue; }
            int t = offset % g.Lag;
            long first = ((long)head * g.Partitions + offset / g.Lag) * g.Lag;
            float s = partitionScores[first + t];
            int beaten = 0;
            for (int u = 0; u < g.Lag; u++)
            {
                float other = partitionScores[first + u];
                if (other > s || (other == s && u < t)) beaten++;
            }
            pressScores[i] = (float)(g.Lag - 1 - beaten) / g.Lag;
        }
    }

    /// <summary>
    /// scratch [2 (K, V), kvHeads, moved, dim]: each head's surviving window slots in their final
    /// order (kept tokens partition by partition, then the tail). Copied out first because in-place
    /// moves would overwrite slots other threads still read.
    /// </summary>
    [KernelInstance(typeof(float))]
    [KernelInstance(typeof(ushort))]
    internal static void LagKvGatherKernel<TP>(ArrayView<TP> poolKeys, ArrayView<TP> poolValues, ArrayView<int> pageTable,
        ArrayView<int> kept, ArrayView<TP> scratch, LagKvGrid g)
        where TP : unmanaged
    {
        int dim = g.Geometry.HeadDim, moved = g.Moved;
        long half = (long)g.Geometry.KvHeads * moved * dim;
        for (long i = GridStrideStart; i < half; i += GridStrideStep)
        {
            int d = (int)(i % dim);
            long headSlot = i / dim;
            int m = (int)(headSlot % moved), head = (int)(headSlot / moved);
            int kept0 = g.Partitions * g.Keep;
            int source;
            if (m < kept0)
            {
                int p = m / g.Keep;
                source = g.WindowStart + p * g.Lag + kept[((long)head * g.Partitions + p) * g.Keep + m % g.Keep];
            }
            else source = g.WindowStart + g.Partitions * g.Lag + (m - kept0);
            long offset = g.SlotOffset(pageTable, head, source) + d;
            scratch[i] = poolKeys[offset];
            scratch[half + i] = poolValues[offset];
        }
    }

    /// <summary>Writes the gathered slots back to slots WindowStart.. of each head.</summary>
    [KernelInstance(typeof(float))]
    [KernelInstance(typeof(ushort))]
    internal static void LagKvScatterKernel<TP>(ArrayView<TP> poolKeys, ArrayView<TP> poolValues, ArrayView<int> pageTable,
        ArrayView<TP> scratch, LagKvGrid g)
        where TP : unmanaged
    {
        int dim = g.Geometry.HeadDim, moved = g.Moved;
        long half = (long)g.Geometry.KvHeads * moved * dim;
        for (long i = GridStrideStart; i < half; i += GridStrideStep)
        {
            int d = (int)(i % dim);
            long headSlot = i / dim;
            int m = (int)(headSlot % moved), head = (int)(headSlot / moved);
            long offset = g.SlotOffset(pageTable, head, g.WindowStart + m) + d;
            poolKeys[offset] = scratch[i];
            poolValues[offset] = scratch[half + i];
        }
    }
}
