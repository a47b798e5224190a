using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Paged causal attention with an online softmax, reading K/V through the page table. One group attends a tile of
/// query vectors that share one KV head: (up to <c>RowsPerTile</c> rows of one sequence) x (up to <c>HeadsPerTile</c>
/// query heads of that KV head's GQA group), so each K/V slot is read once per tile and serves every query head of
/// the group (nothing is copied per head). Per block of <see cref="AttentionSlotBlock"/> slots: the slots' pool
/// offsets (one page-table read per slot, shared by K and V), K staged in shared memory as F32, every (query,
/// slot) score, a per-query online-softmax update, V staged over K, and every (query, dimension) accumulator.
/// Every value a query's output depends on is computed by one thread in a fixed order, over blocks that start at
/// slot 0 (prefill) or at its split's start (decode) and are masked past the query's own slot: a row's result is
/// bit for bit the same whatever else is in its tile or batch.
/// Rows are one sequence's, or a batch's (decode rows of many sequences and prefill chunks of others, see
/// <see cref="KvRowMap"/>): a row sees slots [0, its slot] of its own sequence.
/// - Prefill (rows of chunks longer than one): one group per (tile of consecutive rows, KV head, head chunk); a
///   tile that spans several sequences attends each sequence's rows in turn.
/// - Decode (a sequence's only row): flash-decoding over splits of a fixed number of slots (independent of the
///   batch), one group per (decode row, KV head, head chunk, split) writing partial (max, sum, acc) per head, then
///   a combine kernel merges each (row, head)'s splits in order.
/// </summary>
public sealed partial class IlgpuBackend
{
    private const int MaxHeadDim = 256, MaxAttentionGroup = 256;
    /// <summary>Shared floats for a tile's query vectors (and again for their accumulators); at most this many query vectors per tile.</summary>
    internal const int AttentionQueryFloats = 2048, MaxTileQueries = 32;
    /// <summary>Shared floats for one block of staged K (then V) rows, and the most slots per block.</summary>
    internal const int AttentionSlotFloats = 4096, AttentionSlotBlock = 32;
    private DeviceArray? _attentionScratch;

    /// <summary>Slots per block for a head dimension: as many rows as fit the staging buffer, at most 32.</summary>
    private static int SlotBlock(int headDim) => Math.Min(AttentionSlotBlock, AttentionSlotFloats / headDim);

    /// <summary>
    /// Attends query vectors qi = r * headCount + h (row rowStart + r, head headStart + h, over KV head kvHead) to
    /// slots [slotStart, slotEnd) of one sequence, each row masked past its own slot. Leaves the unnormalised
    /// accumulators in acc[qi * headDim + d] and each query's softmax (max, sum) in maxes / sums.
    /// </summary>
    private static void AttendTile<TP, TF, TK>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values, ArrayView<int> table,
        ArrayView<int> rowSlot, AttentionParams p, int rowStart, int rowCount, int kvHead, int headStart, int headCount, int slotStart, int slotEnd,
        AttentionTileMemory m)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        int t = Group.IdxX, threads = Group.DimX, headDim = p.Kv.HeadDim, block = p.SlotBlock;
        int queries = rowCount * headCount;
        for (int i = t; i < queries * headDim; i += threads)
        {
            int qi = i / headDim, d = i % headDim;
            int row = rowStart + qi / headCount, head = headStart + qi % headCount;
            m.Queries[i] = q[((long)row * p.Heads + head) * headDim + d] * p.Scale;
            m.Acc[i] = 0f;
        }
        for (int qi = t; qi < queries; qi += threads)
        {
            m.Maxes[qi] = float.NegativeInfinity;
            m.Sums[qi] = 0f;
            m.Visible[qi] = p.Rows.Slot(rowSlot, rowStart + qi / headCount) + 1;
        }
        Group.Barrier();
        for (int blockStart = slotStart; blockStart < slotEnd; blockStart += block)
        {
            int n = XMath.Min(block, slotEnd - blockStart);
            for (int j = t; j < n; j += threads) m.SlotBase[j] = p.Kv.SlotOffset(table, kvHead, blockStart + j);
            Group.Barrier();
            StageRows<TP, TF, TK>(keys, n, headDim, p.PackedKv, m);
            Group.Barrier();
            for (int i = t; i < queries * block; i += threads)
            {
                int qi = i / block, j = i % block;
                float score = float.NegativeInfinity;
                if (j < n && blockStart + j < m.Visible[qi])
                {
                    float dot = 0f;
                    for (int d = 0; d < headDim; d++) dot += m.Queries[qi * headDim + d] * m.Slots[j * headDim + d];
                    score = dot;
                }
                m.Probs[i] = score;
            }
            Group.Barrier();
            for (int qi = t; qi < queries; qi += threads)
            {
                float blockMax = float.NegativeInfinity;
                for (int j = 0; j < block; j++) blockMax = XMath.Max(blockMax, m.Probs[qi * block + j]);
                float oldMax = m.Maxes[qi], newMax = XMath.Max(oldMax, blockMax);
                float correction = oldMax == float.NegativeInfinity ? 0f : XMath.Exp(oldMax - newMax);
                float sum = 0f;
                for (int j = 0; j < block; j++)
                {
                    float score = m.Probs[qi * block + j];
                    float prob = score == float.NegativeInfinity ? 0f : XMath.Exp(score - newMax);
                    m.Probs[qi * block + j] = prob;
                    sum += prob;
                }
                m.Sums[qi] = m.Sums[qi] * correction + sum;
                m.Maxes[qi] = newMax;
                m.Corrections[qi] = correction;
            }
            StageRows<TP, TF, TK>(values, n, headDim, p.PackedKv, m); // K is no longer read: V replaces it
            Group.Barrier();
            for (int i = t; i < queries * headDim; i += threads)
            {
                int qi = i / headDim, d = i % headDim;
                float a = m.Acc[i] * m.Corrections[qi];
                for (int j = 0; j < n; j++) a += m.Probs[qi * block + j] * m.Slots[j * headDim + d];
                m.Acc[i] = a;
            }
            Group.Barrier(); // the next block rewrites the slot offsets, K and the probabilities
        }
    }

    /// <summary>
    /// Widens n slots' rows (offsets in m.SlotBase) of K or V into m.Slots: by 16-byte loads when rows are whole
    /// packs (packed != 0: headDim a multiple of 4 F32 or 8 16-bit elements), else element by element.
    /// </summary>
    private static void StageRows<TP, TF, TK>(ArrayView<TP> pool, int n, int headDim, int packed, AttentionTileMemory m)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        int t = Group.IdxX, threads = Group.DimX;
        if (packed != 0)
        {
            var packs = pool.Cast<Pack16>();
            int perPack = default(TK).Count, packsPerRow = headDim / perPack;
            for (int i = t; i < n * packsPerRow; i += threads)
            {
                int j = i / packsPerRow, k = i % packsPerRow;
                default(TK).Widen(packs[m.SlotBase[j] / perPack + k], m.Slots, j * headDim + k * perPack);
            }
        }
        else
        {
            for (int i = t; i < n * headDim; i += threads)
                m.Slots[i] = default(TF).Widen(pool[m.SlotBase[i / headDim] + i % headDim]);
        }
    }

    [KernelInstance(typeof(float), typeof(F32Format), typeof(F32KvPack))]
    [KernelInstance(typeof(ushort), typeof(F16Format), typeof(F16KvPack))]
    [KernelInstance(typeof(ushort), typeof(BF16Format), typeof(BF16KvPack))]
    internal static void PrefillAttentionKernel<TP, TF, TK>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values,
        ArrayView<int> pageTables, ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> output, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        var m = AttentionTileMemory.Allocate();
        int headChunks = (p.Heads / p.Kv.KvHeads + p.HeadsPerTile - 1) / p.HeadsPerTile;
        int tile = Grid.IdxX / (p.Kv.KvHeads * headChunks), kvHead = Grid.IdxX / headChunks % p.Kv.KvHeads, chunk = Grid.IdxX % headChunks;
        int group = p.Heads / p.Kv.KvHeads;
        int headStart = kvHead * group + chunk * p.HeadsPerTile, headCount = XMath.Min(p.HeadsPerTile, group - chunk * p.HeadsPerTile);
        int tileEnd = XMath.Min(p.Rows.Rows, (tile + 1) * p.RowsPerTile);
        // Rows of one sequence are consecutive: attend each sequence's rows of the tile in turn (uniform across the group).
        for (int segmentStart = tile * p.RowsPerTile; segmentStart < tileEnd;)
        {
            int segmentEnd = segmentStart + 1;
            while (segmentEnd < tileEnd && p.Rows.SameSequence(rowSequence, segmentStart, segmentEnd)) segmentEnd++;
            if (!p.Rows.IsDecodeRow(rowSequence, segmentStart)) // the decode kernels' row
            {
                int slotEnd = p.Rows.Slot(rowSlot, segmentEnd - 1) + 1;
                AttendTile<TP, TF, TK>(q, keys, values, p.Rows.Table(rowSequence, pageTables, segmentStart), rowSlot, p,
                    segmentStart, segmentEnd - segmentStart, kvHead, headStart, headCount, 0, slotEnd, m);
                int headDim = p.Kv.HeadDim;
                for (int i = Group.IdxX; i < (segmentEnd - segmentStart) * headCount * headDim; i += Group.DimX)
                {
                    int qi = i / headDim, d = i % headDim;
                    int row = segmentStart + qi / headCount, head = headStart + qi % headCount;
                    output[((long)row * p.Heads + head) * headDim + d] = m.Acc[i] / m.Sums[qi];
                }
                Group.Barrier(); // the next segment reuses the tile memory
            }
            segmentStart = segmentEnd;
        }
    }

    /// <summary>One group per (decode row from p.FirstDecodeRow, KV head, head chunk, split); rows of longer chunks leave at once.</summary>
    [KernelInstance(typeof(float), typeof(F32Format), typeof(F32KvPack))]
    [KernelInstance(typeof(ushort), typeof(F16Format), typeof(F16KvPack))]
    [KernelInstance(typeof(ushort), typeof(BF16Format), typeof(BF16KvPack))]
    internal static void DecodeAttentionKernel<TP, TF, TK>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values,
        ArrayView<int> pageTables, ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> partials, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        DecodeSplit<TP, TF, TK>(q, keys, values, pageTables, rowSequence, rowSlot, partials, p, out _, out _, out _);
    }

    /// <summary>
    /// One group's split of a (decode row, KV head, head chunk) = Grid.IdxX / Splits: the partial (max, sum, acc) of each
    /// of its heads to scratch. False (for the whole group) when the grid's row is not a decode row.
    /// </summary>
    private static bool DecodeSplit<TP, TF, TK>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values, ArrayView<int> pageTables,
        ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> partials, AttentionParams p, out int row, out int headStart, out int headCount)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        var m = AttentionTileMemory.Allocate();
        int group = p.Heads / p.Kv.KvHeads;
        int headChunks = (group + p.HeadsPerTile - 1) / p.HeadsPerTile;
        int split = Grid.IdxX % p.Splits, rest = Grid.IdxX / p.Splits;
        int chunk = rest % headChunks, kvHead = rest / headChunks % p.Kv.KvHeads;
        row = p.FirstDecodeRow + rest / headChunks / p.Kv.KvHeads;
        headStart = kvHead * group + chunk * p.HeadsPerTile;
        headCount = XMath.Min(p.HeadsPerTile, group - chunk * p.HeadsPerTile);
        if (!p.Rows.IsDecodeRow(rowSequence, row)) return false;
        int length = p.Rows.Slot(rowSlot, row) + 1;
        int start = XMath.Min(length, split * p.SlotsPerSplit);
        int end = XMath.Min(length, start + p.SlotsPerSplit);
        AttendTile<TP, TF, TK>(q, keys, values, p.Rows.Table(rowSequence, pageTables, row), rowSlot, p, row, 1, kvHead, headStart, headCount, start, end, m);
        int headDim = p.Kv.HeadDim;
        for (int h = 0; h < headCount; h++)
        {
            long baseIndex = (((long)(row - p.FirstDecodeRow) * p.Heads + headStart + h) * p.Splits + split) * p.PartialStride;
            if (Group.IdxX == 0)
            {
                partials[baseIndex] = m.Maxes[h];
                partials[baseIndex + 1] = m.Sums[h];
            }
            for (int d = Group.IdxX; d < headDim; d += Group.DimX)
                partials[baseIndex + 2 + d] = m.Acc[h * headDim + d];
        }
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

        int group = shape.Heads / shape.KvHeads;
        int tileQueries = Math.Min(MaxTileQueries, AttentionQueryFloats / shape.HeadDim);
        var p = new AttentionParams
        {
            Kv = pool.Layout, Rows = rows, Heads = shape.Heads, Scale = shape.Scale,
            SlotBlock = SlotBlock(shape.HeadDim), HeadsPerTile = Math.Min(group, tileQueries),
            PackedKv = shape.HeadDim % (16 / DTypes.SizeOf(pool.DType)) == 0
                && ((IlgpuArray)pool.Keys).ByteOffset % 16 == 0 && ((IlgpuArray)pool.Values).ByteOffset % 16 == 0 ? 1 : 0,
        };
        p.RowsPerTile = Math.Max(1, tileQueries / p.HeadsPerTile);
        int headChunks = (group + p.HeadsPerTile - 1) / p.HeadsPerTile;
        int threads = AttentionGroupSize(shape.HeadDim);
        var (rowSequence, rowSlot) = RowViews(batch, pageTables);
        if (prefill)
        {
            int tiles = (rows.Rows + p.RowsPerTile - 1) / p.RowsPerTile;
            LaunchAttentionOf(isDecode: false, pool, new KernelConfig(tiles * shape.KvHeads * headChunks, threads), q, pageTables, rowSequence, rowSlot, output, p);
        }
        if (decodeRows.Count == 0) return;
        // Decode: splits of a fixed number of slots (a few blocks; on the simulator two, so tests split), so a row's
        // result does not depend on the batch; the grid covers the longest row, whose shorter neighbours leave their last splits empty.
        p.FirstDecodeRow = decodeRows.First;
        p.SlotsPerSplit = p.SlotBlock * (Kind == BackendKind.IlgpuCpu ? 2 : 8);
        p.Splits = (maxDecodeLength + p.SlotsPerSplit - 1) / p.SlotsPerSplit;
        int rowHeads = decodeRows.Count * shape.Heads;
        DeviceArray partials = AttentionScratch((long)rowHeads * p.Splits * p.PartialStride);
        int decodeTiles = decodeRows.Count * shape.KvHeads * headChunks;
        var config = new KernelConfig(decodeTiles * p.Splits, threads);
        if (DecodeAttentionInOneLaunch)
        {
            LaunchDecodeAttentionOneLaunch(pool, config, q, pageTables, rowSequence, rowSlot, partials, output, decodeTiles, p);
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
            case DType.F32: LaunchAttentionOf<float, F32Format, F32KvPack>(isDecode, pool, config, q, pageTables, rowSequence, rowSlot, target, p); break;
            case DType.F16: LaunchAttentionOf<ushort, F16Format, F16KvPack>(isDecode, pool, config, q, pageTables, rowSequence, rowSlot, target, p); break;
            case DType.BF16: LaunchAttentionOf<ushort, BF16Format, BF16KvPack>(isDecode, pool, config, q, pageTables, rowSequence, rowSlot, target, p); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }

    private void LaunchAttentionOf<TP, TF, TK>(bool isDecode, KvPool pool, KernelConfig config, DeviceArray q, DeviceArray pageTables,
        ArrayView<int> rowSequence, ArrayView<int> rowSlot, DeviceArray target, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        var kernel = Kernel<ArrayView<float>, ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, AttentionParams>(
            isDecode ? DecodeAttentionKernel<TP, TF, TK> : PrefillAttentionKernel<TP, TF, TK>);
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
