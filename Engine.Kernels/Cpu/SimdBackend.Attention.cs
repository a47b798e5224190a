using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Paged causal attention with an online softmax. The query heads that share a KV head are handled
/// together so each K/V row is read once per group. A batch of sequences is one dispatch: a decode row
/// splits its slot range across tasks and merges the partial softmax states (flash-decoding); a prefill
/// chunk gives each (query, KV head) pair its own task.
/// </summary>
public sealed unsafe partial class SimdBackend
{
    /// <summary>Fewest slots worth a decode task of their own.</summary>
    private const int MinSlotsPerSplit = 64;

    public void Attention(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, DeviceArray output, int queries, AttentionShape shape)
    {
        if (queries <= 0 || length < queries) throw new ArgumentOutOfRangeException(nameof(queries), $"attention of {queries} queries over {length} slots");
        int* pages = CheckedPageTable(pool, pageTable, length);
        RunAttention(q, pool, [new BatchSequence(0, queries, length - queries)], pages, tableStride: 0, output, shape);
    }

    public void Attention(DeviceArray q, KvPool pool, KvBatchLayer batch, DeviceArray output, AttentionShape shape)
    {
        if (batch.Rows == 0) return;
        int* tables = CheckedBatch(pool, batch);
        RunAttention(q, pool, batch.Sequences, tables, batch.TableStride, output, shape);
    }

    private void RunAttention(DeviceArray q, KvPool pool, IReadOnlyList<BatchSequence> sequences, int* tables, int tableStride, DeviceArray output, AttentionShape shape)
    {
        if (shape.KvHeads != pool.KvHeads || shape.HeadDim != pool.HeadDim || shape.KvHeads <= 0 || shape.Heads % shape.KvHeads != 0)
            throw new ArgumentException($"attention shape {shape} does not match the pool ({pool.KvHeads} KV heads of {pool.HeadDim})");
        var last = sequences[^1];
        long elements = (long)(last.FirstRow + last.Rows) * shape.Heads * shape.HeadDim;
        Require(q, DType.F32, elements, nameof(q));
        Require(output, DType.F32, elements, nameof(output));
        var plan = new AttentionPlan(sequences, shape, Threads);
        try
        {
            var kernel = new AttentionKernel(this, PointerOf<float>(q), pool.Layout, PointerOf(pool.Keys), PointerOf(pool.Values), tables, tableStride,
                PointerOf<float>(output), shape, plan);
            KernelDispatch.Run(ref kernel, pool.DType);
        }
        finally { plan.Dispose(); }
    }

    /// <summary>
    /// How a batch's attention is cut into tasks. A sequence with one row is decoded: its slots split
    /// into ranges per KV head (flash-decoding), the partial softmax states merged afterwards. A longer
    /// chunk gives each (row, KV head) its own task. A row's tasks and merge depend only on its own
    /// sequence, so its result is the same bits whatever else shares the batch.
    /// </summary>
    private readonly struct AttentionPlan : IDisposable
    {
        /// <summary>Per sequence: its first task (plus the total at [Count]), its decode splits (0 for a chunk), its first state float.</summary>
        public readonly int* FirstTask, Splits;
        public readonly long* FirstState;
        public readonly BatchSequence* Sequences;
        public readonly float* States;
        public readonly int Count, StateSize;
        public readonly long Work;

        public AttentionPlan(IReadOnlyList<BatchSequence> sequences, AttentionShape shape, int threads)
        {
            Count = sequences.Count;
            StateSize = shape.GroupSize * (shape.HeadDim + 2);
            // One allocation for the plan: the longs first, then the sequences and the ints (all 4-byte aligned).
            long planBytes = (long)Count * (sizeof(long) + sizeof(BatchSequence) + 2 * sizeof(int)) + sizeof(int);
            FirstState = (long*)NativeMemory.Alloc((nuint)planBytes);
            Sequences = (BatchSequence*)(FirstState + Count);
            FirstTask = (int*)(Sequences + Count);
            Splits = FirstTask + Count + 1;
            int tasks = 0; long states = 0, work = 0;
            for (int s = 0; s < Count; s++)
            {
                var seq = Sequences[s] = sequences[s];
                FirstTask[s] = tasks; FirstState[s] = states;
                int length = seq.FirstSlot + seq.Rows;
                if (seq.Rows == 1)
                {
                    Splits[s] = Math.Clamp((2 * threads + shape.KvHeads - 1) / shape.KvHeads, 1, Math.Max(1, length / MinSlotsPerSplit));
                    tasks += shape.KvHeads * Splits[s];
                    states += (long)shape.KvHeads * Splits[s] * StateSize;
                    work += (long)length * shape.Heads * shape.HeadDim;
                }
                else
                {
                    Splits[s] = 0;
                    tasks += seq.Rows * shape.KvHeads;
                    work += ((long)seq.FirstSlot * seq.Rows + (long)seq.Rows * (seq.Rows + 1) / 2) * shape.Heads * shape.HeadDim;
                }
            }
            FirstTask[Count] = tasks;
            Work = work;
            States = states == 0 ? null : (float*)NativeMemory.Alloc((nuint)(states * sizeof(float)));
        }

        public int Tasks => FirstTask[Count];

        /// <summary>The sequence that task belongs to (binary search over the first tasks).</summary>
        public int SequenceOf(int task)
        {
            int lo = 0, hi = Count - 1;
            while (lo < hi)
            {
                int mid = (lo + hi + 1) / 2;
                if (FirstTask[mid] <= task) lo = mid; else hi = mid - 1;
            }
            return lo;
        }

        public void Dispose()
        {
            NativeMemory.Free(States);
            NativeMemory.Free(FirstState);
        }
    }

    private readonly struct AttentionKernel(SimdBackend backend, float* q, KvPoolLayout layout, void* keys, void* values, int* tables, int tableStride,
        float* output, AttentionShape shape, AttentionPlan plan) : ITypedKernel
    {
        public void Run<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            float* pq = q, po = output; void* pk = keys, pv = values; int* pt = tables; int stride = tableStride;
            KvPoolLayout kv = layout; AttentionShape s = shape; AttentionPlan p = plan;
            int group = s.GroupSize, dim = s.HeadDim, qDim = s.Heads * dim;
            backend.RunTasks(p.Tasks, p.Work, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
            {
                int sequence = p.SequenceOf(task), local = task - p.FirstTask[sequence];
                var seq = p.Sequences[sequence];
                int* pages = pt + (long)sequence * stride;
                int splits = p.Splits[sequence];
                if (splits > 0)
                {
                    // A decode row: one (KV head, slot range) of its flash-decoding split.
                    int kvHead = local / splits, split = local % splits, length = seq.FirstSlot + 1;
                    int perSplit = (length + splits - 1) / splits;
                    int start = Math.Min(length, split * perSplit), end = Math.Min(length, start + perSplit);
                    float* state = p.States + p.FirstState[sequence] + (long)local * p.StateSize;
                    AttendRange<TVec, TElem>(pq + (long)seq.FirstRow * qDim + (long)kvHead * group * dim, s, kv, pk, pv, pages, kvHead, start, end,
                        state, state + group, state + 2 * group);
                    return;
                }
                // A chunk row: its whole causal range in one task, normalised in place.
                int row = seq.FirstRow + local / s.KvHeads, head = local % s.KvHeads;
                int visible = seq.FirstSlot + (row - seq.FirstRow) + 1;
                long headBase = (long)row * qDim + (long)head * group * dim;
                float* chunkState = stackalloc float[group * (dim + 2)];
                float* m = chunkState, l = chunkState + group, acc = chunkState + 2 * group;
                AttendRange<TVec, TElem>(pq + headBase, s, kv, pk, pv, pages, head, 0, visible, m, l, acc);
                for (int h = 0; h < group; h++)
                {
                    float inv = 1f / l[h];
                    float* dst = po + headBase + (long)h * dim;
                    for (int d = 0; d < dim; d++) dst[d] = acc[h * dim + d] * inv;
                }
            });
            for (int sequence = 0; sequence < p.Count; sequence++)
                if (p.Splits[sequence] > 0)
                    MergeSplits(p.States + p.FirstState[sequence], p.Splits[sequence], p.StateSize, s, po + (long)p.Sequences[sequence].FirstRow * qDim);
        }

        /// <summary>Merges a decode row's split states (max, sum, weighted values) per head: each rescaled to the global max.</summary>
        private static void MergeSplits(float* states, int splits, int stateSize, AttentionShape s, float* output)
        {
            int group = s.GroupSize, dim = s.HeadDim;
            for (int head = 0; head < s.Heads; head++)
            {
                int kvHead = head / group, k = head % group;
                float globalMax = float.NegativeInfinity;
                for (int split = 0; split < splits; split++)
                    globalMax = MathF.Max(globalMax, states[(long)(kvHead * splits + split) * stateSize + k]);
                float* dst = output + (long)head * dim;
                new Span<float>(dst, dim).Clear();
                float total = 0;
                for (int split = 0; split < splits; split++)
                {
                    float* state = states + (long)(kvHead * splits + split) * stateSize;
                    if (state[group + k] == 0) continue;
                    float weight = MathF.Exp(state[k] - globalMax);
                    total += weight * state[group + k];
                    float* acc = state + 2 * group + (long)k * dim;
                    for (int d = 0; d < dim; d++) dst[d] += weight * acc[d];
                }
                float inv = 1f / total;
                for (int d = 0; d < dim; d++) dst[d] *= inv;
            }
        }
    }

    /// <summary>Slots scored together before one softmax update: amortises the max/exp/rescale work.</summary>
    private const int AttentionChunk = 256;

    /// <summary>
    /// Online softmax of the group's query heads (q: [group, headDim]) over slots [start, end) of one KV
    /// head: leaves the running max m[group], the sum of exponentials l[group] and the unnormalized
    /// weighted value sum acc[group, headDim]. An empty range leaves m = -inf, l = 0, acc = 0. Slots go in
    /// chunks of up to <see cref="AttentionChunk"/>: every head's scores for the chunk (four slots at a
    /// time, page by page), one softmax update per head, then the chunk's values added into acc.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AttendRange<TVec, TElem>(float* q, AttentionShape shape, KvPoolLayout layout, void* keys, void* values, int* pages, int kvHead, int start, int end,
        float* m, float* l, float* acc)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        int group = shape.GroupSize, dim = shape.HeadDim, pageSize = layout.PageSize;
        for (int h = 0; h < group; h++) { m[h] = float.NegativeInfinity; l[h] = 0; }
        new Span<float>(acc, group * dim).Clear();
        // The softmax scale folded into a copy of q once, instead of into every score.
        float* scaledQ = stackalloc float[group * dim];
        TensorPrimitives.Multiply(new ReadOnlySpan<float>(q, group * dim), shape.Scale, new Span<float>(scaledQ, group * dim));
        float* scores = stackalloc float[group * AttentionChunk];
        for (int chunk = start; chunk < end; chunk += AttentionChunk)
        {
            int n = Math.Min(AttentionChunk, end - chunk);
            for (int j = 0; j < n;)
            {
                int slot = chunk + j, inPage = slot % pageSize, rows = Math.Min(pageSize - inPage, n - j);
                long rowOffset = layout.Offset(pages[slot / pageSize], kvHead, inPage);
                for (int h = 0; h < group; h++)
                {
                    float* qh = scaledQ + h * dim, sh = scores + h * AttentionChunk + j;
                    int r = 0;
                    for (; r + 4 <= rows; r += 4) RowKernels.Dot4<TVec, TElem>(qh, keys, rowOffset + (long)r * dim, dim, dim, sh + r);
                    for (; r < rows; r++) sh[r] = RowKernels.Dot<TVec, TElem>(qh, keys, rowOffset + (long)r * dim, dim);
                }
                j += rows;
            }
            for (int h = 0; h < group; h++)
            {
                float* sh = scores + h * AttentionChunk;
                float newMax = SimdMath.Max<TVec>(sh, n, m[h]);
                float keep = MathF.Exp(m[h] - newMax);
                l[h] = l[h] * keep + SimdMath.ExpShiftedAndSum<TVec>(sh, n, newMax);
                m[h] = newMax;
                if (keep != 1f) TensorPrimitives.Multiply(new ReadOnlySpan<float>(acc + h * dim, dim), keep, new Span<float>(acc + h * dim, dim));
            }
            for (int j = 0; j < n;)
            {
                int slot = chunk + j, inPage = slot % pageSize, rows = Math.Min(pageSize - inPage, n - j);
                long rowOffset = layout.Offset(pages[slot / pageSize], kvHead, inPage);
                for (int h = 0; h < group; h++)
                    RowKernels.AccumulateRows<TVec, TElem>(acc + h * dim, 1f, scores + h * AttentionChunk + j, values, rowOffset, rows, dim);
                j += rows;
            }
        }
    }
}
