using Engine.Core;
using Engine.Kernels.Cpu;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>The SIMD backend's LagKV kernels against the float64 reference on random paged layers.</summary>
[TestFixture]
public unsafe class LagKvCpuKernelTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        int seed = 1;
        foreach (var shape in LagKvKernelChecks.Shapes())
            foreach (DType dtype in new[] { DType.F32, DType.BF16, DType.F16 })
                yield return new TestCaseData([seed++, dtype, .. shape]);
    }

    [TestCaseSource(nameof(Cases))]
    public void ScoreSelectCompactMatchTheReference(int seed, DType dtype, int kvHeads, int headDim, int pageSize,
        int sink, int lag, double retention, int compressed, int length)
    {
        var layer = LagKvTestLayer.Create(seed, kvHeads, headDim, pageSize, dtype, sink, lag, retention, compressed, length);
        var c = layer.Compression;
        var scores = new float[kvHeads * c.Partitions * lag];
        var kept = new int[kvHeads * c.Partitions * c.Keep];
        byte[] keys = (byte[])layer.Keys.Clone(), values = (byte[])layer.Values.Clone();
        fixed (byte* k = keys, v = values)
        {
            LagKvCpuKernels.Score(layer.Layout, (nint)k, (nint)v, layer.PageTable, c, layer.ValueWeight, scores);
            LagKvCpuKernels.Select(scores, kvHeads, c, kept);
            LagKvCpuKernels.Compact(layer.Layout, (nint)k, (nint)v, layer.PageTable, c, kept);
        }
        LagKvKernelChecks.Scores(layer, scores);
        LagKvKernelChecks.Selection(layer, kept);
        LagKvKernelChecks.Compaction(layer, kept, keys, values);
    }

    [Test]
    public void TiesGoToTheLowerPosition()
    {
        var c = new Engine.Core.Kv.LagKv.LagKvCompression(0, 0, 1, 8, 3, 8);
        float[] scores = [0.1f, 0.5f, 0.2f, 0.5f, 0.5f, 0.3f, 0.5f, 0.0f];
        var kept = new int[3];
        LagKvCpuKernels.Select(scores, 1, c, kept);
        Assert.That(kept, Is.EqualTo(new[] { 1, 3, 4 }));
    }
}
