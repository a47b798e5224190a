using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Attention column sums (<see cref="IAttentionScoreOps"/>) on host memory: per KV head, the keys it
/// can see are widened to fp32 once, then each (row, group head) adds its normalised softmax row.
/// </summary>
public sealed unsafe partial class SimdBackend : IAttentionScoreOps
{
    public void AttentionColumnSums(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, int queries, int firstQuery,
        AttentionShape shape, DeviceArray sums)
    {
        if (shape.KvHeads != pool.KvHeads || shape.HeadDim != pool.HeadDim || shape.KvHeads <= 0 || shape.Heads % shape.KvHeads != 0)
            throw new ArgumentException($"attention shape {shape} does not match the pool ({pool.KvHeads} KV heads of {pool.HeadDim})");
        if (queries < 1 || length < queries || firstQuery < 0 || firstQuery >= queries)
            throw new ArgumentOutOfRangeException(nameof(firstQuery), $"column sums of rows [{firstQuery}, {queries}) over {length} slots");
        Require(q, DType.F32, (long)queries * shape.Heads * shape.HeadDim, nameof(q));
        Require(sums, DType.F32, (long)shape.KvHeads * length, nameof(sums));
        int* pages = CheckedPageTable(pool, pageTable, length);
        float* pq = PointerOf<float>(q), ps = PointerOf<float>(sums);
        void* keys = PointerOf(pool.Keys);
        var layout = pool.Layout;
        _pool.For(shape.KvHeads, kvHead =>
            ColumnSumsOfHead(layout, keys, pages, pq, length, queries, firstQuery, shape, kvHead, ps + (long)kvHead * length));
    }

    private static void ColumnSumsOfHead(KvPoolLayout layout, void* keys, int* pages, float* q, int length, int queries, int firstQuery,
        AttentionShape shape, int kvHead, float* sums)
    {
        int dim = shape.HeadDim, group = shape.GroupSize;
        var k = new float[(long)length * dim];
        for (int slot = 0; slot < length; slot++) ReadKeyRow(layout, keys, pages, kvHead, slot, k.AsSpan(slot * dim, dim));
        var sum = new Span<float>(sums, length);
        sum.Clear();
        var scores = new float[length];
        for (int row = firstQuery; row < queries; row++)
        {
            int visible = length - queries + row + 1;
            for (int g = 0; g < group; g++)
            {
                float* qRow = q + ((long)row * shape.Heads + kvHead * group + g) * dim;
                float max = float.NegativeInfinity;
                for (int slot = 0; slot < visible; slot++)
                {
                    float dot = 0;
                    for (int d = 0; d < dim; d++) dot += qRow[d] * k[slot * dim + d];
                    scores[slot] = dot * shape.Scale;
                    max = MathF.Max(max, scores[slot]);
                }
                float total = 0;
                for (int slot = 0; slot < visible; slot++) { scores[slot] = MathF.Exp(scores[slot] - max); total += scores[slot]; }
                float inverse = 1f / total;
                for (int slot = 0; slot < visible; slot++) sum[slot] += scores[slot] * inverse;
            }
        }
    }

    private static void ReadKeyRow(KvPoolLayout layout, void* pool, int* pages, int head, int slot, Span<float> row)
    {
        long offset = layout.Offset(pages[slot / layout.PageSize], head, slot % layout.PageSize);
        switch (layout.DType)
        {
            case DType.F32: new ReadOnlySpan<float>((float*)pool + offset, row.Length).CopyTo(row); break;
            case DType.BF16: for (int d = 0; d < row.Length; d++) row[d] = BFloat16.ToFloat(((ushort*)pool)[offset + d]); break;
            case DType.F16: for (int d = 0; d < row.Length; d++) row[d] = (float)((Half*)pool)[offset + d]; break;
            default: throw new ArgumentException($"unsupported KV dtype {layout.DType}");
        }
    }
}
