using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Attention column sums (<see cref="IAttentionScoreOps"/>) in two grid-stride kernels: the softmax
/// max and denominator of every (row, head), then one thread per (KV head, slot) summing the
/// normalised weights its group's heads and the rows give it. fp32 whatever the pool dtype.
/// </summary>
public sealed partial class IlgpuBackend : IAttentionScoreOps
{
    private DeviceArray? _columnSumStats;

    /// <summary>stats [rows, heads, 2]: max and sum of exp(score - max) over the slots the row sees.</summary>
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void AttentionRowStatsKernel<TP, TF>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<int> pageTable,
        ArrayView<float> stats, ColumnSumParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        long total = (long)p.Rows * p.Heads;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            int row = p.FirstQuery + (int)(i / p.Heads), head = (int)(i % p.Heads);
            int kvHead = head / p.GroupSize, last = p.LastVisible(row);
            long qBase = ((long)row * p.Heads + head) * p.Kv.HeadDim;
            float max = float.NegativeInfinity, sum = 0f;
            for (int slot = 0; slot <= last; slot++)
            {
                float score = SlotScore<TP, TF>(q, qBase, keys, pageTable, p, kvHead, slot);
                if (score > max)
                {
                    sum = sum * XMath.Exp(max - score) + 1f;
                    max = score;
                }
                else sum += XMath.Exp(score - max);
            }
            stats[2 * i] = max;
            stats[2 * i + 1] = sum;
        }
    }

    /// <summary>sums [kvHeads, length]: each slot's attention weight summed over the rows and the group's heads.</summary>
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void AttentionColumnSumKernel<TP, TF>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<int> pageTable,
        ArrayView<float> stats, ArrayView<float> sums, ColumnSumParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        long total = (long)p.Kv.KvHeads * p.Length;
        int group = p.GroupSize;
        for (long i = GridStrideStart; i < total; i += GridStrideStep)
        {
            int kvHead = (int)(i / p.Length), slot = (int)(i % p.Length);
            float sum = 0f;
            for (int row = p.FirstQuery; row < p.Queries; row++)
            {
                if (slot > p.LastVisible(row)) continue;
                for (int k = 0; k < group; k++)
                {
                    int head = kvHead * group + k;
                    long qBase = ((long)row * p.Heads + head) * p.Kv.HeadDim;
                    long statIndex = 2 * ((long)(row - p.FirstQuery) * p.Heads + head);
                    float score = SlotScore<TP, TF>(q, qBase, keys, pageTable, p, kvHead, slot);
                    sum += XMath.Exp(score - stats[statIndex]) / stats[statIndex + 1];
                }
            }
            sums[i] = sum;
        }
    }

    private static float SlotScore<TP, TF>(ArrayView<float> q, long qBase, ArrayView<TP> keys, ArrayView<int> pageTable,
        ColumnSumParams p, int kvHead, int slot)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        long kBase = p.Kv.SlotOffset(pageTable, kvHead, slot);
        float dot = 0f;
        for (int d = 0; d < p.Kv.HeadDim; d++) dot += q[qBase + d] * default(TF).Widen(keys[kBase + d]);
        return dot * p.Scale;
    }

    public void AttentionColumnSums(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, int queries, int firstQuery,
        AttentionShape shape, DeviceArray sums)
    {
        Require(shape.KvHeads > 0 && shape.Heads % shape.KvHeads == 0 && pool.KvHeads == shape.KvHeads && pool.HeadDim == shape.HeadDim,
            "attention shape does not match the KV pool");
        Require(queries >= 1 && length >= queries && firstQuery >= 0 && firstQuery < queries, $"column sums of rows [{firstQuery}, {queries}) over {length} slots");
        Require(pageTable.DType == DType.I32 && (long)pageTable.Length * pool.PageSize >= length, "page table holds fewer slots than the length");
        Require(q.DType == DType.F32 && q.Length >= (long)queries * shape.Heads * shape.HeadDim, "queries shorter than queries * heads * headDim");
        Require(sums.DType == DType.F32 && sums.Length >= (long)shape.KvHeads * length, "column sums must be F32 [kvHeads, length]");
        var p = new ColumnSumParams
        {
            Kv = pool.Layout, Heads = shape.Heads, Length = length, Queries = queries, FirstQuery = firstQuery, Scale = shape.Scale,
        };
        long statFloats = 2L * p.Rows * shape.Heads;
        if (_columnSumStats is null || _columnSumStats.Length < statFloats)
        {
            _columnSumStats?.Dispose();
            _columnSumStats = Allocate(DType.F32, Math.Max(statFloats, 1024));
        }
        switch (pool.DType)
        {
            case DType.F32: LaunchColumnSums<float, F32Format>(q, pool, pageTable, sums, p); break;
            case DType.F16: LaunchColumnSums<ushort, F16Format>(q, pool, pageTable, sums, p); break;
            case DType.BF16: LaunchColumnSums<ushort, BF16Format>(q, pool, pageTable, sums, p); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }

    private void LaunchColumnSums<TP, TF>(DeviceArray q, KvPool pool, DeviceArray pageTable, DeviceArray sums, ColumnSumParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        ArrayView<float> stats = ViewOf<float>(_columnSumStats!);
        Kernel<ArrayView<float>, ArrayView<TP>, ArrayView<int>, ArrayView<float>, ColumnSumParams>(AttentionRowStatsKernel<TP, TF>)(
            GridStride((long)p.Rows * p.Heads), ViewOf<float>(q), ViewOf<TP>(pool.Keys), ViewOf<int>(pageTable), stats, p);
        Kernel<ArrayView<float>, ArrayView<TP>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ColumnSumParams>(AttentionColumnSumKernel<TP, TF>)(
            GridStride((long)p.Kv.KvHeads * p.Length), ViewOf<float>(q), ViewOf<TP>(pool.Keys), ViewOf<int>(pageTable), stats, ViewOf<float>(sums), p);
    }
}
