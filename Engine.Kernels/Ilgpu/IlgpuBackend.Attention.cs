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
/// Rows are one sequence's, or a batch's (decode rows of many sequences and prefill chunks of others,
/// see <see cref="KvRowMap"/>): a row sees slots [0, its slot] of its own sequence.
/// - Prefill (rows of chunks longer than one): one group per (row, head) writes the normalised output.
/// - Decode (a sequence's only row): flash-decoding: the slots are split into ranges, one group per
///   (row, head, range) writes its partial (max, sum, acc) to scratch, and a combine kernel merges the
///   ranges; a batch of decode rows of different lengths is one split launch and one combine launch.
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
        int t = Group.IdxX, threads = Group.DimX, headDim = p.Kv.HeadDim;
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
                long kBase = p.Kv.SlotOffset(pageTable, kvHead, s);
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
                    long vBase = p.Kv.SlotOffset(pageTable, kvHead, s);
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
        ArrayView<int> pageTables, ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> output, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var acc = SharedMemory.Allocate<float>(MaxHeadDim);
        var probs = SharedMemory.Allocate<float>(MaxAttentionGroup);
        int row = Grid.IdxX / p.Heads, head = Grid.IdxX % p.Heads;
        if (p.Rows.IsDecodeRow(rowSequence, row)) return; // the decode kernels' row
        int kvHead = head / (p.Heads / p.Kv.KvHeads);
        int visible = p.Rows.Slot(rowSlot, row) + 1;
        long qBase = ((long)row * p.Heads + head) * p.Kv.HeadDim;
        var state = AttendSlots<TP, TF>(q, qBase, keys, values, p.Rows.Table(rowSequence, pageTables, row), p, kvHead, 0, visible, qs, acc, probs);
        float inverse = 1f / state.Sum;
        for (int d = Group.IdxX; d < p.Kv.HeadDim; d += Group.DimX)
            output[qBase + d] = acc[d] * inverse;
    }

    /// <summary>One group per (decode row from p.FirstDecodeRow, head, split); rows of longer chunks leave at once.</summary>
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void DecodeAttentionKernel<TP, TF>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values,
        ArrayView<int> pageTables, ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> partials, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        DecodeSplit<TP, TF>(q, keys, values, pageTables, rowSequence, rowSlot, partials, p, out _, out _);
    }

    /// <summary>
    /// One group's split of a (decode row, head) = Grid.IdxX / Splits: its partial (max, sum, acc) to scratch. False
    /// (for the whole group) when the grid's row is not a decode row.
    /// </summary>
    private static bool DecodeSplit<TP, TF>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values,
        ArrayView<int> pageTables, ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> partials, AttentionParams p, out int row, out int head)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var qs = SharedMemory.Allocate<float>(MaxHeadDim);
        var acc = SharedMemory.Allocate<float>(MaxHeadDim);
        var probs = SharedMemory.Allocate<float>(MaxAttentionGroup);
        int rowHead = Grid.IdxX / p.Splits, split = Grid.IdxX % p.Splits;
        row = p.FirstDecodeRow + rowHead / p.Heads;
        head = rowHead % p.Heads;
        if (!p.Rows.IsDecodeRow(rowSequence, row)) return false;
        int kvHead = head / (p.Heads / p.Kv.KvHeads);
        int length = p.Rows.Slot(rowSlot, row) + 1;
        int start = XMath.Min(length, split * p.SlotsPerSplit);
        int end = XMath.Min(length, start + p.SlotsPerSplit);
        var state = AttendSlots<TP, TF>(q, ((long)row * p.Heads + head) * p.Kv.HeadDim, keys, values, p.Rows.Table(rowSequence, pageTables, row),
            p, kvHead, start, end, qs, acc, probs);
        long baseIndex = (long)Grid.IdxX * p.PartialStride;
        if (Group.IdxX == 0)
        {
            partials[baseIndex] = state.Max;
            partials[baseIndex + 1] = state.Sum;
        }
        for (int d = Group.IdxX; d < p.Kv.HeadDim; d += Group.DimX)
            partials[baseIndex + 2 + d] = acc[d];
        return true;
    }

    /// <summary>
    /// Merges a (decode row, head)'s split partials: out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M).
    /// A split past the row's length holds (-inf, 0, zeros) and adds nothing.
    /// </summary>
    [KernelInstance]
    internal static void CombineDecodeKernel(ArrayView<float> partials, ArrayView<int> rowSequence, ArrayView<float> output, AttentionParams p)
    {
        int row = p.FirstDecodeRow + Grid.IdxX / p.Heads, head = Grid.IdxX % p.Heads;
        if (!p.Rows.IsDecodeRow(rowSequence, row)) return;
        CombineSplits(partials, Grid.IdxX, row, head, output, p);
    }

    /// <summary>The combine of one (decode row, head) = rowHead's splits, by the threads of one group (also the one-launch kernel's last group).</summary>
    private static void CombineSplits(ArrayView<float> partials, int rowHead, int row, int head, ArrayView<float> output, AttentionParams p)
    {
        long headBase = (long)rowHead * p.Splits * p.PartialStride;
        float max = float.NegativeInfinity;
        for (int s = 0; s < p.Splits; s++)
            max = XMath.Max(max, partials[headBase + (long)s * p.PartialStride]);
        float sum = 0f;
        for (int s = 0; s < p.Splits; s++)
        {
            long b = headBase + (long)s * p.PartialStride;
            if (partials[b + 1] != 0f) sum += partials[b + 1] * XMath.Exp(partials[b] - max);
        }
        float inverse = 1f / sum;
        for (int d = Group.IdxX; d < p.Kv.HeadDim; d += Group.DimX)
        {
            float value = 0f;
            for (int s = 0; s < p.Splits; s++)
            {
                long b = headBase + (long)s * p.PartialStride;
                if (partials[b + 1] != 0f) value += partials[b + 2 + d] * XMath.Exp(partials[b] - max);
            }
            output[((long)row * p.Heads + head) * p.Kv.HeadDim + d] = value * inverse;
        }
    }

    public void Attention(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, DeviceArray output, int queries, AttentionShape shape)
    {
        Require(queries >= 1 && length >= queries, $"attention of {queries} queries over {length} slots");
        Require(pageTable.DType == DType.I32 && (long)pageTable.Length * pool.PageSize >= length, $"page table of {pageTable.Length} pages holds fewer than {length} slots");
        var rows = KvRowMap.OneSequence(length - queries, queries);
        if (queries > 1) LaunchAttention(q, pool, pageTable, null, rows, output, shape, prefill: true, decodeRows: default, maxDecodeLength: 0);
        else LaunchAttention(q, pool, pageTable, null, rows, output, shape, prefill: false, decodeRows: (0, 1), maxDecodeLength: length);
    }

    public void Attention(DeviceArray q, KvPool pool, KvBatchLayer batch, DeviceArray output, AttentionShape shape)
    {
        batch.Check(pool);
        // The decode launches cover the rows from the first decode row to the last; the prefill launch all rows.
        int firstDecode = int.MaxValue, lastDecode = -1, maxDecodeLength = 0;
        bool prefill = false;
        foreach (var seq in batch.Sequences)
        {
            if (seq.Rows > 1) { prefill = true; continue; }
            firstDecode = Math.Min(firstDecode, seq.FirstRow);
            lastDecode = seq.FirstRow;
            maxDecodeLength = Math.Max(maxDecodeLength, seq.FirstSlot + 1);
        }
        var decodeRows = lastDecode < 0 ? default : (firstDecode, lastDecode - firstDecode + 1);
        LaunchAttention(q, pool, batch.PageTables, batch, KvRowMap.Of(batch), output, shape, prefill, decodeRows, maxDecodeLength);
    }

    private void LaunchAttention(DeviceArray q, KvPool pool, DeviceArray pageTables, KvBatchLayer? batch, KvRowMap rows, DeviceArray output, AttentionShape shape,
        bool prefill, (int First, int Count) decodeRows, int maxDecodeLength)
    {
        Require(shape.KvHeads > 0 && shape.Heads % shape.KvHeads == 0, $"{shape.Heads} heads are not a multiple of {shape.KvHeads} KV heads");
        Require(pool.KvHeads == shape.KvHeads && pool.HeadDim == shape.HeadDim, "attention shape does not match the KV pool");
        Require(shape.HeadDim <= MaxHeadDim, $"head dimension {shape.HeadDim} above the supported {MaxHeadDim}");
        long qElements = (long)rows.Rows * shape.Heads * shape.HeadDim;
        Require(q.DType == DType.F32 && q.Length >= qElements && output.DType == DType.F32 && output.Length >= qElements, "attention q/output shorter than rows * heads * headDim");
        if (rows.Rows == 0) return;

        var p = new AttentionParams { Kv = pool.Layout, Rows = rows, Heads = shape.Heads, Scale = shape.Scale };
        int threads = AttentionGroupSize(shape.HeadDim);
        var (rowSequence, rowSlot) = RowViews(batch, pageTables);
        if (prefill)
            LaunchAttentionOf(isDecode: false, pool, new KernelConfig(rows.Rows * shape.Heads, threads), q, pageTables, rowSequence, rowSlot, output, p);
        if (decodeRows.Count == 0) return;
        // Decode: enough ranges to fill the device, each at least one block of slots long; shorter rows leave their last ranges empty.
        int minSlots = threads;
        int targetGroups = Kind == BackendKind.IlgpuCpu ? 8 : 4 * Accelerator.NumMultiprocessors;
        int rowHeads = decodeRows.Count * shape.Heads;
        int splits = Math.Clamp(Math.Min((maxDecodeLength + minSlots - 1) / minSlots, (targetGroups + rowHeads - 1) / rowHeads), 1, 256);
        p.FirstDecodeRow = decodeRows.First;
        p.SlotsPerSplit = (maxDecodeLength + splits - 1) / splits;
        p.Splits = (maxDecodeLength + p.SlotsPerSplit - 1) / p.SlotsPerSplit;
        DeviceArray partials = AttentionScratch((long)rowHeads * p.Splits * p.PartialStride);
        var config = new KernelConfig(rowHeads * p.Splits, threads);
        if (DecodeAttentionInOneLaunch)
        {
            LaunchDecodeAttentionOneLaunch(pool, config, q, pageTables, rowSequence, rowSlot, partials, output, rowHeads, p);
            return;
        }
        LaunchAttentionOf(isDecode: true, pool, config, q, pageTables, rowSequence, rowSlot, partials, p);
        Kernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, AttentionParams>(CombineDecodeKernel)(
            new KernelConfig(rowHeads, Math.Min(threads, 128)), ViewOf<float>(partials), rowSequence, ViewOf<float>(output), p);
    }

    /// <summary>
    /// Forces the threads per attention group (a multiple of the warp size, at most 256): lets tests run
    /// the multi-warp path on the simulator, whose default is one warp to keep it fast.
    /// </summary>
    internal int? AttentionThreadsOverride { get; set; }

    /// <summary>Threads per attention group: a warp multiple near the head dimension, so few sit idle.</summary>
    private int AttentionGroupSize(int headDim) =>
        AttentionThreadsOverride ?? (Kind == BackendKind.IlgpuCpu ? Accelerator.WarpSize : Math.Min(Math.Max(64, (headDim + 31) / 32 * 32), Math.Min(GroupSize, MaxAttentionGroup)));

    private void LaunchAttentionOf(bool isDecode, KvPool pool, KernelConfig config, DeviceArray q, DeviceArray pageTables,
        ArrayView<int> rowSequence, ArrayView<int> rowSlot, DeviceArray target, AttentionParams p)
    {
        switch (pool.DType)
        {
            case DType.F32: LaunchAttentionOf<float, F32Format>(isDecode, pool, config, q, pageTables, rowSequence, rowSlot, target, p); break;
            case DType.F16: LaunchAttentionOf<ushort, F16Format>(isDecode, pool, config, q, pageTables, rowSequence, rowSlot, target, p); break;
            case DType.BF16: LaunchAttentionOf<ushort, BF16Format>(isDecode, pool, config, q, pageTables, rowSequence, rowSlot, target, p); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }

    private void LaunchAttentionOf<TP, TF>(bool isDecode, KvPool pool, KernelConfig config, DeviceArray q, DeviceArray pageTables,
        ArrayView<int> rowSequence, ArrayView<int> rowSlot, DeviceArray target, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var kernel = Kernel<ArrayView<float>, ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, AttentionParams>(
            isDecode ? DecodeAttentionKernel<TP, TF> : PrefillAttentionKernel<TP, TF>);
        kernel(config, ViewOf<float>(q), ViewOf<TP>(pool.Keys), ViewOf<TP>(pool.Values), ViewOf<int>(pageTables), rowSequence, rowSlot, ViewOf<float>(target), p);
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
