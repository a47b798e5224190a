using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Paged causal attention with an online softmax, reading K/V through the page table (GQA: query head
/// h reads KV head h / group, nothing is copied). One group handles one (query, head) over a slot
/// range, a block of group-size slots at a time: each warp scores slots (q.k * scale, lanes along the
/// key row), the group reduces max and sum, then each thread updates its share of the headDim
/// accumulators in shared memory (reading value rows coalesced).
/// - Prefill (queries &gt; 1): query i of the chunk sees slots [0, length - queries + i]; one group per
///   (query, head) writes the normalised output.
/// - Decode (queries == 1): flash-decoding: the slots are split into ranges, one group per (head,
///   range) writes its partial (max, sum, acc) to scratch, and a combine kernel merges the ranges.
/// </summary>
public sealed partial class IlgpuBackend
{
    private const int MaxHeadDim = 256, MaxAttentionGroup = 256;
    private DeviceArray? _attentionScratch;

    /// <summary>Attends one query head over slots [start, end); leaves acc (unnormalised) in shared memory.</summary>
    private static SoftmaxState AttendSlots<TP, TF>(ArrayView<float> q, long qBase, ArrayView<TP> keys, ArrayView<TP> values,
        ArrayView<int> pageTable, AttentionParams p, int kvHead, int start, int end,
        ArrayView<float> qs, ArrayView<float> acc, ArrayView<float> probs)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        int t = Group.IdxX, threads = Group.DimX, headDim = p.Kv.HeadDim, pageSize = p.Kv.PageSize;
        for (int d = t; d < headDim; d += threads)
        {
            qs[d] = q[qBase + d] * p.Scale;
            acc[d] = 0f;
        }
        Group.Barrier();
        var state = new SoftmaxState { Max = float.NegativeInfinity, Sum = 0f };
        int warps = threads / Warp.WarpSize;
        for (int blockStart = start; blockStart < end; blockStart += threads)
        {
            int blockSlots = XMath.Min(threads, end - blockStart);
            // Scores: one warp per slot, lanes along the key row (coalesced), a warp reduction per dot product.
            for (int j = Warp.WarpIdx; j < blockSlots; j += warps)
            {
                int s = blockStart + j;
                long kBase = p.Kv.Offset(pageTable[s / pageSize], kvHead, s % pageSize);
                float partial = 0f;
                for (int d = Warp.LaneIdx; d < headDim; d += Warp.WarpSize)
                    partial += qs[d] * default(TF).Widen(keys[kBase + d]);
                float dot = WarpExtensions.Reduce<float, AddFloat>(partial);
                if (Warp.IsFirstLane) probs[j] = dot;
            }
            Group.Barrier();
            float score = t < blockSlots ? probs[t] : float.NegativeInfinity;
            float blockMax = GroupExtensions.AllReduce<float, MaxFloat>(score);
            float newMax = XMath.Max(state.Max, blockMax);
            float prob = t < blockSlots ? XMath.Exp(score - newMax) : 0f;
            probs[t] = prob; // each thread overwrites only the score it read
            float blockSum = GroupExtensions.AllReduce<float, AddFloat>(prob);
            float correction = state.Max == float.NegativeInfinity ? 0f : XMath.Exp(state.Max - newMax);
            state.Sum = state.Sum * correction + blockSum;
            state.Max = newMax;
            Group.Barrier(); // probs complete
            for (int d = t; d < headDim; d += threads)
            {
                float a = acc[d] * correction;
                for (int j = 0; j < blockSlots; j++)
                {
                    int s = blockStart + j;
                    long vBase = p.Kv.Offset(pageTable[s / pageSize], kvHead, s % pageSize);
                    a += probs[j] * default(TF).Widen(values[vBase + d]);
                }
                acc[d] = a;
            }
            Group.Barrier(); // probs reused by the next block
        }
        return state;
    }

    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void PrefillAttentionKernel<TP, TF>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values,
        ArrayView<int> pageTable, ArrayView<float> output, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var acc = SharedMemory.Allocate<float>(MaxHeadDim);
        var probs = SharedMemory.Allocate<float>(MaxAttentionGroup);
        int query = Grid.IdxX / p.Heads, head = Grid.IdxX % p.Heads;
        int kvHead = head / (p.Heads / p.Kv.KvHeads);
        int visible = p.Length - p.Queries + query + 1;
        long qBase = ((long)query * p.Heads + head) * p.Kv.HeadDim;
        var state = AttendSlots<TP, TF>(q, qBase, keys, values, pageTable, p, kvHead, 0, visible, qs, acc, probs);
        float inverse = 1f / state.Sum;
        for (int d = Group.IdxX; d < p.Kv.HeadDim; d += Group.DimX)
            output[qBase + d] = acc[d] * inverse;
    }

    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void DecodeAttentionKernel<TP, TF>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values,
        ArrayView<int> pageTable, ArrayView<float> partials, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var acc = SharedMemory.Allocate<float>(MaxHeadDim);
        var probs = SharedMemory.Allocate<float>(MaxAttentionGroup);
        int head = Grid.IdxX / p.Splits, split = Grid.IdxX % p.Splits;
        int kvHead = head / (p.Heads / p.Kv.KvHeads);
        int start = split * p.SlotsPerSplit;
        int end = XMath.Min(p.Length, start + p.SlotsPerSplit);
        var state = AttendSlots<TP, TF>(q, (long)head * p.Kv.HeadDim, keys, values, pageTable, p, kvHead, start, end, qs, acc, probs);
        long baseIndex = (long)Grid.IdxX * p.PartialStride;
        if (Group.IdxX == 0)
        {
            partials[baseIndex] = state.Max;
            partials[baseIndex + 1] = state.Sum;
        }
        for (int d = Group.IdxX; d < p.Kv.HeadDim; d += Group.DimX)
            partials[baseIndex + 2 + d] = acc[d];
    }

    /// <summary>Merges a head's split partials: out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M).</summary>
    [KernelInstance]
    internal static void CombineDecodeKernel(ArrayView<float> partials, ArrayView<float> output, AttentionParams p)
    {
        int head = Grid.IdxX;
        long headBase = (long)head * p.Splits * p.PartialStride;
        float max = float.NegativeInfinity;
        for (int s = 0; s < p.Splits; s++)
            max = XMath.Max(max, partials[headBase + (long)s * p.PartialStride]);
        float sum = 0f;
        for (int s = 0; s < p.Splits; s++)
        {
            long b = headBase + (long)s * p.PartialStride;
            sum += partials[b + 1] * XMath.Exp(partials[b] - max);
        }
        float inverse = 1f / sum;
        for (int d = Group.IdxX; d < p.Kv.HeadDim; d += Group.DimX)
        {
            float value = 0f;
            for (int s = 0; s < p.Splits; s++)
            {
                long b = headBase + (long)s * p.PartialStride;
                value += partials[b + 2 + d] * XMath.Exp(partials[b] - max);
            }
            output[(long)head * p.Kv.HeadDim + d] = value * inverse;
        }
    }

    public void Attention(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, DeviceArray output, int queries, AttentionShape shape)
    {
        Require(shape.KvHeads > 0 && shape.Heads % shape.KvHeads == 0, $"{shape.Heads} heads are not a multiple of {shape.KvHeads} KV heads");
        Require(pool.KvHeads == shape.KvHeads && pool.HeadDim == shape.HeadDim, "attention shape does not match the KV pool");
        Require(shape.HeadDim <= MaxHeadDim, $"head dimension {shape.HeadDim} above the supported {MaxHeadDim}");
        Require(queries >= 1 && length >= queries, $"attention of {queries} queries over {length} slots");
        Require(pageTable.DType == DType.I32 && (long)pageTable.Length * pool.PageSize >= length, $"page table of {pageTable.Length} pages holds fewer than {length} slots");
        long qElements = (long)queries * shape.Heads * shape.HeadDim;
        Require(q.DType == DType.F32 && q.Length >= qElements && output.DType == DType.F32 && output.Length >= qElements, "attention q/output shorter than queries * heads * headDim");

        var p = new AttentionParams { Kv = KvGeometry.Of(pool), Heads = shape.Heads, Length = length, Queries = queries, Scale = shape.Scale };
        int threads = AttentionGroupSize(shape.HeadDim);
        if (queries > 1)
        {
            LaunchAttention(isDecode: false, pool, new KernelConfig(queries * shape.Heads, threads), q, pageTable, output, p);
            return;
        }
        // Decode: enough ranges to fill the device, each at least one block of slots long.
        int minSlots = threads;
        int targetGroups = Kind == BackendKind.IlgpuCpu ? 8 : 4 * Accelerator.NumMultiprocessors;
        int splits = Math.Clamp(Math.Min((length + minSlots - 1) / minSlots, (targetGroups + shape.Heads - 1) / shape.Heads), 1, 256);
        p.SlotsPerSplit = (length + splits - 1) / splits;
        p.Splits = (length + p.SlotsPerSplit - 1) / p.SlotsPerSplit;
        DeviceArray partials = AttentionScratch((long)shape.Heads * p.Splits * p.PartialStride);
        LaunchAttention(isDecode: true, pool, new KernelConfig(shape.Heads * p.Splits, threads), q, pageTable, partials, p);
        Kernel<ArrayView<float>, ArrayView<float>, AttentionParams>(CombineDecodeKernel)(
            new KernelConfig(shape.Heads, Math.Min(threads, 128)), ViewOf<float>(partials), ViewOf<float>(output), p);
    }

    /// <summary>
    /// Forces the threads per attention group (a multiple of the warp size, at most 256): lets tests run
    /// the multi-warp path on the simulator, whose default is one warp to keep it fast.
    /// </summary>
    internal int? AttentionThreadsOverride { get; set; }

    /// <summary>Threads per attention group: a warp multiple near the head dimension, so few sit idle.</summary>
    private int AttentionGroupSize(int headDim) =>
        AttentionThreadsOverride ?? (Kind == BackendKind.IlgpuCpu ? Accelerator.WarpSize : Math.Min(Math.Max(64, (headDim + 31) / 32 * 32), Math.Min(GroupSize, MaxAttentionGroup)));

    private void LaunchAttention(bool isDecode, KvPool pool, KernelConfig config, DeviceArray q, DeviceArray pageTable, DeviceArray target, AttentionParams p)
    {
        switch (pool.DType)
        {
            case DType.F32: LaunchAttentionOf<float, F32Format>(isDecode, pool, config, q, pageTable, target, p); break;
            case DType.F16: LaunchAttentionOf<ushort, F16Format>(isDecode, pool, config, q, pageTable, target, p); break;
            case DType.BF16: LaunchAttentionOf<ushort, BF16Format>(isDecode, pool, config, q, pageTable, target, p); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }

    private void LaunchAttentionOf<TP, TF>(bool isDecode, KvPool pool, KernelConfig config, DeviceArray q, DeviceArray pageTable, DeviceArray target, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var kernel = Kernel<ArrayView<float>, ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<float>, AttentionParams>(
            isDecode ? DecodeAttentionKernel<TP, TF> : PrefillAttentionKernel<TP, TF>);
        kernel(config, ViewOf<float>(q), ViewOf<TP>(pool.Keys), ViewOf<TP>(pool.Values), ViewOf<int>(pageTable), ViewOf<float>(target), p);
    }

    /// <summary>Decode partials, grown on demand and kept for later calls.</summary>
    private DeviceArray AttentionScratch(long floats)
    {
        if (_attentionScratch is null || _attentionScratch.Length < floats)
        {
            _attentionScratch?.Dispose();
            _attentionScratch = Allocate(DType.F32, Math.Max(floats, 4096));
        }
        return _attentionScratch;
    }
}
