using System.Runtime.InteropServices;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>Every backend's LagKV ops (<see cref="ILagKvOps"/>) against the float64 reference on random paged layers.</summary>
[TestFixture]
public class LagKvOpsTests
{
    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (string backend in TestBackends.Available())
        {
            int seed = 1;
            foreach (var shape in LagKvKernelChecks.Shapes())
                foreach (DType dtype in new[] { DType.F32, DType.BF16, DType.F16 })
                    yield return new TestCaseData([backend, seed++, dtype, .. shape]);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void ScoreSelectCompactMatchTheReference(string backendName, int seed, DType dtype, int kvHeads, int headDim, int pageSize,
        int sink, int lag, double retention, int compressed, int length)
    {
        using IBackend backend = TestBackends.Create(backendName);
        if (backend is not ILagKvOps ops) { Assert.Ignore($"{backendName} has no LagKV ops"); return; }
        var layer = LagKvTestLayer.Create(seed, kvHeads, headDim, pageSize, dtype, sink, lag, retention, compressed, length);
        var c = layer.Compression;
        using var pool = new KvPool(backend, layer.PageCount, kvHeads, pageSize, headDim, dtype);
        UploadBytes(backend, pool.Keys, layer.Keys);
        UploadBytes(backend, pool.Values, layer.Values);
        using var pageTable = backend.Allocate(DType.I32, layer.PageTable.Length);
        backend.Upload<int>(pageTable, layer.PageTable);
        using var scores = backend.Allocate(DType.F32, (long)kvHeads * c.Partitions * lag);
        using var kept = backend.Allocate(DType.I32, (long)kvHeads * c.Partitions * c.Keep);
        using var scratch = backend.Allocate(dtype, ILagKvOps.LagKvCompactScratchElements(pool, c));

        ops.LagKvScore(pool, pageTable, c, layer.ValueWeight, scores);
        ops.LagKvSelect(scores, kvHeads, c, kept);
        ops.LagKvCompact(pool, pageTable, c, kept, scratch);

        var hostScores = new float[scores.Length];
        var hostKept = new int[kept.Length];
        backend.Download<float>(scores, hostScores);
        backend.Download<int>(kept, hostKept);
        LagKvKernelChecks.Scores(layer, hostScores);
        LagKvKernelChecks.Selection(layer, hostKept);
        LagKvKernelChecks.Compaction(layer, hostKept, DownloadBytes(backend, pool.Keys), DownloadBytes(backend, pool.Values));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.Available))]
    public void TiesGoToTheLowerPosition(string backendName)
    {
        using IBackend backend = TestBackends.Create(backendName);
        if (backend is not ILagKvOps ops) { Assert.Ignore($"{backendName} has no LagKV ops"); return; }
        var c = new LagKvCompression(0, 0, 2, 8, 3, 8);
        float[] host = [0.1f, 0.5f, 0.2f, 0.5f, 0.5f, 0.3f, 0.5f, 0.05f, /* second partition */ 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.9f];
        using var scores = backend.Allocate(DType.F32, host.Length);
        using var kept = backend.Allocate(DType.I32, 6);
        backend.Upload<float>(scores, host);
        ops.LagKvSelect(scores, 1, c, kept);
        var result = new int[6];
        backend.Download<int>(kept, result);
        Assert.That(result, Is.EqualTo(new[] { 1, 3, 4, 0, 1, 7 }));
    }

    [TestCaseSource(typeof(TestBackends), nameof(TestBackends.Available))]
    public void PressScoresRankEachPartitionAndForceSinkAndTail(string backendName)
    {
        using IBackend backend = TestBackends.Create(backendName);
        if (backend is not ILagKvOps ops) { Assert.Ignore($"{backendName} has no LagKV ops"); return; }
        // 2 heads; sink 3, two scored partitions of 4, tail 5: 16 slots per head.
        var c = new LagKvCompression(3, 0, 2, 4, 0, 5);
        float[] partitionScores =
        [
            0.4f, 0.1f, 0.3f, 0.2f, /* */ 0.5f, 0.5f, 0.9f, 0.0f, // head 0 (a tie: the lower offset ranks higher)
            0.0f, 0.7f, 0.1f, 0.6f, /* */ 0.2f, 0.3f, 0.1f, 0.4f, // head 1
        ];
        using var scores = backend.Allocate(DType.F32, partitionScores.Length);
        using var press = backend.Allocate(DType.F32, 2 * 16);
        backend.Upload<float>(scores, partitionScores);
        ops.LagKvPressScores(scores, 2, c, press);
        var result = new float[32];
        backend.Download<float>(press, result);
        float[] expected =
        [
            1, 1, 1, 3 / 4f, 0, 2 / 4f, 1 / 4f, 2 / 4f, 1 / 4f, 3 / 4f, 0, 1, 1, 1, 1, 1,
            1, 1, 1, 0, 3 / 4f, 1 / 4f, 2 / 4f, 1 / 4f, 2 / 4f, 0, 3 / 4f, 1, 1, 1, 1, 1,
        ];
        Assert.That(result, Is.EqualTo(expected));
    }

    private static void UploadBytes(IBackend backend, DeviceArray array, byte[] bytes)
    {
        if (array.DType == DType.F32) backend.Upload<float>(array, MemoryMarshal.Cast<byte, float>(bytes));
        else backend.Upload<ushort>(array, MemoryMarshal.Cast<byte, ushort>(bytes));
    }

    private static byte[] DownloadBytes(IBackend backend, DeviceArray array)
    {
        var bytes = new byte[array.ByteLength];
        if (array.DType == DType.F32) backend.Download<float>(array, MemoryMarshal.Cast<byte, float>(bytes.AsSpan()));
        else backend.Download<ushort>(array, MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan()));
        return bytes;
    }
}
