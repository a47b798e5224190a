using Engine.Core;
using Engine.Kernels;
using Engine.Tests.Ops;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.KvBaselines;

/// <summary>
/// <see cref="IAttentionScoreOps.AttentionColumnSums"/> against a float64 host reference on random
/// queries and keys, through a shuffled page table, for every pool dtype.
/// </summary>
[TestFixtureSource(typeof(TestBackends), nameof(TestBackends.Available))]
public class AttentionColumnSumTests(string backendName)
{
    [TestCase(DType.F32, 37, 5, 0, 1e-5)]
    [TestCase(DType.F32, 50, 12, 7, 1e-5)]
    [TestCase(DType.F16, 29, 1, 0, 1e-4)]
    [TestCase(DType.BF16, 64, 20, 4, 1e-4)]
    public void MatchesFloat64Reference(DType dtype, int length, int queries, int firstQuery, double tolerance)
    {
        using IBackend backend = TestBackends.Create(backendName);
        if (backend is not IAttentionScoreOps ops) { Assert.Ignore($"{backendName} has no attention score ops"); return; }
        const int kvHeads = 2, heads = 6, dim = 16, pageSize = 8;
        var shape = new AttentionShape(heads, kvHeads, dim);
        var random = new Random(length * 31 + queries);
        int pages = (length + pageSize - 1) / pageSize;
        int[] table = Enumerable.Range(0, pages + 3).OrderBy(_ => random.Next()).Take(pages).ToArray();
        using var pool = new KvPool(backend, pages + 3, kvHeads, pageSize, dim, dtype);
        using var pageTable = backend.Allocate(DType.I32, pages);
        backend.Upload<int>(pageTable, table);

        // Keys [length, kvHeads, dim] written through KvWrite, then read back as stored (rounded to the dtype).
        float[] keys = RandomValues(random, length * kvHeads * dim);
        using var k = backend.Allocate(DType.F32, keys.Length);
        using var v = backend.Allocate(DType.F32, keys.Length);
        backend.Upload<float>(k, keys);
        backend.Upload<float>(v, keys);
        backend.KvWrite(pool, pageTable, k, v, 0, length);
        float[] stored = keys.Select(x => Rounded(x, dtype)).ToArray();

        float[] q = RandomValues(random, queries * heads * dim);
        using var qArray = backend.Allocate(DType.F32, q.Length);
        backend.Upload<float>(qArray, q);
        using var sums = backend.Allocate(DType.F32, kvHeads * length);
        ops.AttentionColumnSums(qArray, pool, pageTable, length, queries, firstQuery, shape, sums);
        var actual = new float[kvHeads * length];
        backend.Download<float>(sums, actual);

        var expected = new double[kvHeads * length];
        double scale = 1 / Math.Sqrt(dim);
        for (int r = firstQuery; r < queries; r++)
            for (int h = 0; h < heads; h++)
            {
                int kvHead = h / (heads / kvHeads), visible = length - queries + r + 1;
                var scores = new double[visible];
                for (int j = 0; j < visible; j++)
                {
                    double dot = 0;
                    for (int d = 0; d < dim; d++) dot += (double)q[(r * heads + h) * dim + d] * stored[(j * kvHeads + kvHead) * dim + d];
                    scores[j] = dot * scale;
                }
                double max = scores.Max(), total = scores.Sum(s => Math.Exp(s - max));
                for (int j = 0; j < visible; j++) expected[kvHead * length + j] += Math.Exp(scores[j] - max) / total;
            }
        Tolerance.AssertClose(expected, Tolerance.Widen(actual), tolerance, tolerance, $"column sums {dtype}");
        Assert.That(actual.Sum(), Is.EqualTo((queries - firstQuery) * heads).Within(1e-3), "each (row, head) distributes a total weight of 1");
    }

    private static float[] RandomValues(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 4 - 2) + 1e-3f).ToArray();

    private static float Rounded(float x, DType dtype) => dtype switch
    {
        DType.BF16 => BFloat16.ToFloat(BFloat16.FromFloat(x)),
        DType.F16 => (float)(Half)x,
        _ => x,
    };
}
