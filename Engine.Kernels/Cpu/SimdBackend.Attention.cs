using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Paged causal attention with an online softmax. The query heads that share a KV head are handled
/// together so each K/V row is read once per group. Decode splits the slot range across tasks and merges
/// the partial softmax states (flash-decoding); prefill gives each (query, KV head) pair its own task.
/// </summary>
public sealed unsafe partial class SimdBackend
{
    /// <summary>Fewest slots worth a decode task of their own.</summary>
    private const int MinSlotsPerSplit = 64;

    public void Attention(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, DeviceArray output, int queries, AttentionShape shape)
    {
        if (queries <= 0 || length < queries) throw new ArgumentOutOfRangeException(nameof(queries), $"attention of {queries} queries over {length} slots");
        if (shape.KvHeads != pool.KvHeads || shape.HeadDim != pool.HeadDim || shape.KvHeads <= 0 || shape.Heads % shape.KvHeads != 0)
            throw new ArgumentException($"attention shape {shape} does not match the pool ({pool.KvHeads} KV heads of {pool.HeadDim})");
        long elements = (long)queries * shape.Heads * shape.HeadDim;
        Require(q, DType.F32, elements, nameof(q));
        Require(output, DType.F32, elements, nameof(output));
        int* pages = CheckedPageTable(pool, pageTable, length);
        var kernel = new AttentionKernel(this, PointerOf<float>(q), pool, pages, length, PointerOf<float>(output), queries, shape);
        KernelDispatch.Run(ref kernel, pool.DType);
    }

    private readonly struct AttentionKernel(SimdBackend backend, float* q, KvPool pool, int* pages, int length, float* output, int queries, AttentionShape shape) : ITypedKernel
    {
        public void Run<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            if (queries == 1) Decode<TVec, TElem>();
            else Prefill<TVec, TElem>();
        }

        private void Prefill<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            float* pq = q, po = output; int* pt = pages; KvPool kv = pool; AttentionShape s = shape;
            int len = length, count = queries, group = s.GroupSize, dim = s.HeadDim;
            backend.RunTasks(count * s.KvHeads, (long)count * len * s.Heads * dim, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
            {
                int query = task / s.KvHeads, kvHead = task % s.KvHeads;
                long headBase = ((long)query * s.Heads + kvHead * group) * dim;
                int stateSize = group * (dim + 2);
                float* state = stackalloc float[stateSize];
                float* m = state, l = state + group, acc = state + 2 * group;
                AttendRange<TVec, TElem>(pq + headBase, s, kv, pt, kvHead, 0, len - count + query + 1, m, l, acc);
                for (int h = 0; h < group; h++)
                {
                    float inv = 1f / l[h];
                    float* dst = po + headBase + (long)h * dim;
                    for (int d = 0; d < dim; d++) dst[d] = acc[h * dim + d] * inv;
                }
            });
        }

        private void Decode<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            float* pq = q, po = output; int* pt = pages; KvPool kv = pool; AttentionShape s = shape;
            int len = length, group = s.GroupSize, dim = s.HeadDim;
            int splits = Math.Clamp((2 * backend.Threads + s.KvHeads - 1) / s.KvHeads, 1, Math.Max(1, len / MinSlotsPerSplit));
            int perSplit = (len + splits - 1) / splits;
            int stateSize = group * (dim + 2);
            float* states = (float*)NativeMemory.Alloc((nuint)((long)s.KvHeads * splits * stateSize * sizeof(float)));
            try
            {
                backend.RunTasks(s.KvHeads * splits, (long)len * s.Heads * dim, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
                {
                    int kvHead = task / splits, split = task % splits;
                    float* state = states + (long)task * stateSize;
                    int start = Math.Min(len, split * perSplit), end = Math.Min(len, start + perSplit);
                    AttendRange<TVec, TElem>(pq + (long)kvHead * group * dim, s, kv, pt, kvHead, start, end, state, state + group, state + 2 * group);
                });
                // Merge the splits' (max, sum, weighted values) per head: rescale each to the global max.
                for (int head = 0; head < s.Heads; head++)
                {
                    int kvHead = head / group, k = head % group;
                    float globalMax = float.NegativeInfinity;
                    for (int split = 0; split < splits; split++)
                        globalMax = MathF.Max(globalMax, states[(long)(kvHead * splits + split) * stateSize + k]);
                    float* dst = po + (long)head * dim;
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
            finally { NativeMemory.Free(states); }
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
    private static void AttendRange<TVec, TElem>(float* q, AttentionShape shape, KvPool pool, int* pages, int kvHead, int start, int end,
        float* m, float* l, float* acc)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        int group = shape.GroupSize, dim = shape.HeadDim, pageSize = pool.PageSize;
        void* keys = PointerOf(pool.Keys), values = PointerOf(pool.Values);
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
                long rowOffset = pool.Offset(pages[slot / pageSize], kvHead, inPage);
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
                long rowOffset = pool.Offset(pages[slot / pageSize], kvHead, inPage);
                for (int h = 0; h < group; h++)
                    RowKernels.AccumulateRows<TVec, TElem>(acc + h * dim, 1f, scores + h * AttentionChunk + j, values, rowOffset, rows, dim);
                j += rows;
            }
        }
    }
}
