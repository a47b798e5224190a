using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using NUnit.Framework;

namespace Engine.Tests.Cpu;

/// <summary>
/// What is particular to the SIMD backend: its tiling tails (shapes that are not multiples of the
/// vector width or of the 4x4 micro-kernel), its thread splits (decode attention merged across slot
/// splits, more tasks than cores) and its argument checks. Op semantics in general are checked by the
/// op-conformance suite over every backend; these compare against float64 references too.
/// </summary>
[TestFixture]
public sealed class SimdBackendTests
{
    private static float[] RandomFloats(Random rng, int n, float scale = 1f)
    {
        var values = new float[n];
        for (int i = 0; i < n; i++)
        {
            float v = (float)(rng.NextDouble() * 2 - 1);
            values[i] = (v == 0 ? 0.5f : v) * scale;
        }
        return values;
    }

    /// <summary>Rounds to the dtype and returns the stored bits (as ushort for 16-bit types) plus the rounded floats.</summary>
    private static DeviceArray UploadAs(IBackend backend, DType dtype, float[] values, out double[] rounded)
    {
        var array = backend.Allocate(dtype, values.Length);
        rounded = new double[values.Length];
        switch (dtype)
        {
            case DType.F32:
                backend.Upload<float>(array, values);
                for (int i = 0; i < values.Length; i++) rounded[i] = values[i];
                break;
            case DType.BF16:
                var bf = values.Select(BFloat16.FromFloat).ToArray();
                backend.Upload<ushort>(array, bf);
                for (int i = 0; i < values.Length; i++) rounded[i] = BFloat16.ToFloat(bf[i]);
                break;
            case DType.F16:
                var h = values.Select(v => BitConverter.HalfToUInt16Bits((Half)v)).ToArray();
                backend.Upload<ushort>(array, h);
                for (int i = 0; i < values.Length; i++) rounded[i] = (double)BitConverter.UInt16BitsToHalf(h[i]);
                break;
        }
        return array;
    }

    private static float[] Download(IBackend backend, DeviceArray array, int n)
    {
        var result = new float[n];
        backend.Download<float>(array, result);
        return result;
    }

    [TestCase(1, 37, 13), TestCase(1, 96, 64), TestCase(1, 200, 131), TestCase(1, 515, 150), TestCase(5, 37, 19), TestCase(9, 64, 40), TestCase(70, 33, 21), TestCase(67, 48, 36)]
    public void LinearMatchesFloat64AcrossTilingTails(int rows, int inDim, int outDim)
    {
        foreach (int threads in new[] { 1, 3 })
        foreach (DType dtype in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            using var backend = new SimdBackend(threads);
            var rng = new Random(rows * 1000 + inDim + outDim);
            var xHost = RandomFloats(rng, rows * inDim);
            using var x = UploadAs(backend, DType.F32, xHost, out var xRef);
            using var w = UploadAs(backend, dtype, RandomFloats(rng, outDim * inDim), out var wRef);
            using var b = UploadAs(backend, dtype, RandomFloats(rng, outDim), out var bRef);
            using var output = backend.Allocate(DType.F32, rows * outDim);
            backend.Linear(x, w, b, output, rows, inDim, outDim);
            var actual = Download(backend, output, rows * outDim);
            for (int r = 0; r < rows; r++)
            for (int o = 0; o < outDim; o++)
            {
                double expected = bRef[o], magnitude = Math.Abs(bRef[o]);
                for (int i = 0; i < inDim; i++)
                {
                    expected += xRef[r * inDim + i] * wRef[o * inDim + i];
                    magnitude += Math.Abs(xRef[r * inDim + i] * wRef[o * inDim + i]);
                }
                Assert.That(actual[r * outDim + o], Is.EqualTo(expected).Within(1e-5 * magnitude + 1e-6),
                    $"{dtype} threads={threads} r={r} o={o}");
            }
        }
    }

    [TestCase(1, 200, DType.F32), TestCase(1, 333, DType.BF16), TestCase(1, 129, DType.F16), TestCase(7, 90, DType.BF16), TestCase(12, 12, DType.F32)]
    public void PagedAttentionMatchesFloat64WithSplitsAndGqa(int queries, int length, DType kvType)
    {
        const int kvHeads = 2, heads = 6, headDim = 40, pageSize = 16;
        var shape = new AttentionShape(heads, kvHeads, headDim);
        using var backend = new SimdBackend(3);
        var rng = new Random(queries * 7 + length);
        int pagesUsed = (length + pageSize - 1) / pageSize;
        using var pool = new KvPool(backend, pagesUsed + 3, kvHeads, pageSize, headDim, kvType);
        // Pages out of order, so the page table's indirection matters.
        var pageIds = Enumerable.Range(0, pool.PageCount).OrderBy(_ => rng.Next()).Take(pagesUsed).ToArray();
        using var table = backend.Allocate(DType.I32, pagesUsed);
        backend.Upload<int>(table, pageIds);
        var keysHost = RandomFloats(rng, length * kvHeads * headDim, 2f);
        var valuesHost = RandomFloats(rng, length * kvHeads * headDim);
        using var keys = UploadAs(backend, DType.F32, keysHost, out _);
        using var values = UploadAs(backend, DType.F32, valuesHost, out _);
        backend.KvWrite(pool, table, keys, values, 0, length);
        var qHost = RandomFloats(rng, queries * heads * headDim);
        using var q = UploadAs(backend, DType.F32, qHost, out _);
        using var output = backend.Allocate(DType.F32, queries * heads * headDim);
        backend.Attention(q, pool, table, length, output, queries, shape);
        var actual = Download(backend, output, queries * heads * headDim);

        double Stored(float v) => kvType switch
        {
            DType.BF16 => BFloat16.ToFloat(BFloat16.FromFloat(v)),
            DType.F16 => (double)(Half)v,
            _ => v,
        };
        for (int i = 0; i < queries; i++)
        for (int h = 0; h < heads; h++)
        {
            int g = h / shape.GroupSize, visible = length - queries + i + 1;
            var scores = new double[visible];
            for (int s = 0; s < visible; s++)
            {
                double dot = 0;
                for (int d = 0; d < headDim; d++)
                    dot += qHost[(i * heads + h) * headDim + d] * Stored(keysHost[(s * kvHeads + g) * headDim + d]);
                scores[s] = dot / Math.Sqrt(headDim);
            }
            double max = scores.Max(), total = scores.Sum(v => Math.Exp(v - max));
            for (int d = 0; d < headDim; d++)
            {
                double expected = 0;
                for (int s = 0; s < visible; s++)
                    expected += Math.Exp(scores[s] - max) / total * Stored(valuesHost[(s * kvHeads + g) * headDim + d]);
                Assert.That(actual[(i * heads + h) * headDim + d], Is.EqualTo(expected).Within(2e-5), $"q={i} h={h} d={d}");
            }
        }
    }

    [Test]
    public void ElementwiseOpsSplitAcrossThreadsMatchFloat64()
    {
        using var backend = new SimdBackend(3);
        var rng = new Random(11);
        const int count = 100_003;
        var a = RandomFloats(rng, count, 4f);
        var b = RandomFloats(rng, count, 4f);
        using var x = UploadAs(backend, DType.F32, a, out _);
        using var y = UploadAs(backend, DType.F32, b, out _);
        backend.SiluMul(x, y, x, count);
        var silu = Download(backend, x, count);
        for (int i = 0; i < count; i++)
            Assert.That(silu[i], Is.EqualTo(a[i] / (1 + Math.Exp(-a[i])) * b[i]).Within(1e-5 * (1 + Math.Abs(a[i] * b[i]))));
        backend.Add(x, y, count);
        var sum = Download(backend, x, count);
        for (int i = 0; i < count; i++) Assert.That(sum[i], Is.EqualTo((double)silu[i] + b[i]).Within(1e-5));
    }

    [Test]
    public void RopeRecomputesItsCachedAnglesWhenPositionsOrFrequenciesChange()
    {
        using var backend = new SimdBackend(2);
        const int rows = 3, heads = 2, headDim = 8, half = headDim / 2;
        var rng = new Random(21);
        using var positions = backend.Allocate(DType.I32, rows);
        using var invFreq = backend.Allocate(DType.F32, half);
        using var x = backend.Allocate(DType.F32, rows * heads * headDim);
        foreach (var (pos, freq) in new[]
                 {
                     (new[] { 0, 5, 9 }, new[] { 1f, 0.5f, 0.25f, 0.125f }),
                     (new[] { 0, 5, 9 }, new[] { 1f, 0.5f, 0.25f, 0.125f }), // the cached angles
                     (new[] { 7, 5, 9 }, new[] { 1f, 0.5f, 0.25f, 0.125f }), // same array, new positions
                     (new[] { 7, 5, 9 }, new[] { 1f, 0.5f, 0.3f, 0.125f }), // new frequencies
                 })
        {
            backend.Upload<int>(positions, pos);
            backend.Upload<float>(invFreq, freq);
            var before = RandomFloats(rng, rows * heads * headDim);
            backend.Upload<float>(x, before);
            backend.Rope(x, positions, invFreq, rows, heads, headDim);
            var after = Download(backend, x, rows * heads * headDim);
            for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            for (int j = 0; j < half; j++)
            {
                int at = (r * heads + h) * headDim + j;
                double angle = (float)(pos[r] * freq[j]);
                Assert.That(after[at], Is.EqualTo(before[at] * Math.Cos(angle) - before[at + half] * Math.Sin(angle)).Within(1e-5));
                Assert.That(after[at + half], Is.EqualTo(before[at + half] * Math.Cos(angle) + before[at] * Math.Sin(angle)).Within(1e-5));
            }
        }
    }

    [Test]
    public void BadArgumentsAreRejectedNotRunOutOfBounds()
    {
        using var backend = new SimdBackend(2);
        using var table = backend.Allocate(DType.BF16, 4 * 8);
        using var tokens = backend.Allocate(DType.I32, 1);
        backend.Upload<int>(tokens, new[] { 4 });
        using var output = backend.Allocate(DType.F32, 8);
        Assert.That(() => backend.Embedding(table, tokens, output, 1, 8), Throws.TypeOf<EngineException>().With.Message.Contains("token id 4"));
        using var small = backend.Allocate(DType.F32, 7);
        Assert.That(() => backend.Linear(small, table, null, output, 1, 8, 4), Throws.ArgumentException);
        using var pool = new KvPool(backend, 2, 1, 4, 8, DType.F32);
        using var pageTable = backend.Allocate(DType.I32, 1);
        backend.Upload<int>(pageTable, new[] { 2 });
        Assert.That(() => backend.KvWrite(pool, pageTable, output, output, 0, 1), Throws.ArgumentException.With.Message.Contains("outside the pool"));
    }

    [Test]
    public void AllocationIsCountedAndFreed()
    {
        using var backend = new SimdBackend(1);
        var a = backend.Allocate(DType.BF16, 1000);
        var b = backend.Allocate(DType.F32, 10);
        Assert.That(backend.AllocatedBytes, Is.EqualTo(2040));
        a.Dispose();
        a.Dispose();
        Assert.That(backend.AllocatedBytes, Is.EqualTo(40));
        Assert.That(backend.PeakAllocatedBytes, Is.EqualTo(2040));
        b.Dispose();
        Assert.That(backend.Name, Does.StartWith("cpu-simd (1 thread, "));
    }

    [Test]
    public void LargeArraysOnHugePagesAreZeroedWholeAndCountedAtTheirTrueSize()
    {
        // 9 MiB + 6 bytes: above the huge-page threshold and not a multiple of 2 MiB.
        using var backend = new SimdBackend(1);
        long length = (9L << 20) / 2 + 3;
        using (var array = backend.Allocate(DType.BF16, length))
        {
            Assert.That(backend.AllocatedBytes, Is.EqualTo(length * 2));
            var ends = new ushort[2];
            backend.Download<ushort>(array, ends.AsSpan(0, 1), 0);
            backend.Download<ushort>(array, ends.AsSpan(1, 1), length - 1);
            Assert.That(ends, Is.All.EqualTo(0));
            backend.Upload<ushort>(array, new ushort[] { 0x3F80 }, length - 1);
            backend.Download<ushort>(array, ends.AsSpan(1, 1), length - 1);
            Assert.That(ends[1], Is.EqualTo(0x3F80));
        }
        Assert.That(backend.AllocatedBytes, Is.Zero);
    }
}
