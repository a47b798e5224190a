using Engine.Core;
using Engine.Kernels;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class KvWriteOpTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void WritesThroughThePageTable([Values(DType.F32, DType.F16, DType.BF16)] DType poolType, [Values(1, 7)] int rows, [Values(0, 3)] int startSlot)
    {
        var rng = Rng(poolType, rows, startSlot);
        var layout = new KvLayout(KvHeads: 2, PageSize: 4, HeadDim: 8);
        const int pageCount = 8;
        using var pool = new KvPool(Backend, pageCount, layout.KvHeads, layout.PageSize, layout.HeadDim, poolType);
        int elements = (int)pool.ElementsPerPage * pageCount;
        var oldKeys = TestTensor.Random(poolType, elements, rng);
        var oldValues = TestTensor.Random(poolType, elements, rng);
        oldKeys.UploadTo(Backend, pool.Keys);
        oldValues.UploadTo(Backend, pool.Values);
        int[] pageTable = Shuffled(pageCount, rng).Take(4).ToArray();
        int count = rows * layout.KvHeads * layout.HeadDim;
        float[] keys = TestTensor.Random(DType.F32, count, rng, 4).Floats!;
        float[] values = TestTensor.Random(DType.F32, count, rng, 4).Floats!;
        PlantRoundingCases(keys);
        using var tableDev = TestTensor.Ints(Backend, pageTable);
        using var keysDev = TestTensor.FromFloats(DType.F32, keys).ToDevice(Backend);
        using var valuesDev = TestTensor.FromFloats(DType.F32, values).ToDevice(Backend);

        Backend.KvWrite(pool, tableDev, keysDev, valuesDev, startSlot, rows);

        Func<float, double> store = f => TestTensor.RoundTo(poolType, f);
        // Exact: narrowing is deterministic (round to nearest even), and untouched slots keep their data.
        Tolerance.AssertClose(OpReference.KvWrite(oldKeys.Values, pageTable, keys, layout, startSlot, rows, store), TestTensor.Download(Backend, pool.Keys, elements), 0, 0, "keys");
        Tolerance.AssertClose(OpReference.KvWrite(oldValues.Values, pageTable, values, layout, startSlot, rows, store), TestTensor.Download(Backend, pool.Values, elements), 0, 0, "values");
    }

    [Test]
    public void BatchWritesEachRowToItsSequence([Values(DType.F32, DType.F16, DType.BF16)] DType poolType)
    {
        var rng = Rng("batch", poolType);
        var layout = new KvLayout(KvHeads: 2, PageSize: 4, HeadDim: 8);
        using var batch = TestBatch.Create(Backend, layout.PageSize, AttentionOpTests.MixedBatch, rng);
        using var pool = new KvPool(Backend, batch.PageCount, layout.KvHeads, layout.PageSize, layout.HeadDim, poolType);
        int elements = (int)pool.ElementsPerPage * batch.PageCount;
        var oldKeys = TestTensor.Random(poolType, elements, rng);
        var oldValues = TestTensor.Random(poolType, elements, rng);
        oldKeys.UploadTo(Backend, pool.Keys);
        oldValues.UploadTo(Backend, pool.Values);
        int count = batch.Rows * layout.KvHeads * layout.HeadDim;
        float[] keys = TestTensor.Random(DType.F32, count, rng, 4).Floats!;
        float[] values = TestTensor.Random(DType.F32, count, rng, 4).Floats!;
        PlantRoundingCases(keys);
        using var keysDev = TestTensor.FromFloats(DType.F32, keys).ToDevice(Backend);
        using var valuesDev = TestTensor.FromFloats(DType.F32, values).ToDevice(Backend);

        Backend.KvWrite(pool, batch.Layer, keysDev, valuesDev);

        Func<float, double> store = f => TestTensor.RoundTo(poolType, f);
        Tolerance.AssertClose(OpReference.KvWrite(oldKeys.Values, batch, keys, layout, store), TestTensor.Download(Backend, pool.Keys, elements), 0, 0, "keys");
        Tolerance.AssertClose(OpReference.KvWrite(oldValues.Values, batch, values, layout, store), TestTensor.Download(Backend, pool.Values, elements), 0, 0, "values");
    }

    [Test]
    public void BatchBeyondItsPageTableIsRefused()
    {
        var rng = Rng("batch refused");
        using var batch = TestBatch.Create(Backend, 4, [(1, 3), (3, 2)], rng);
        using var pool = new KvPool(Backend, batch.PageCount, 2, 4, 8, DType.F32);
        using var keys = Backend.Allocate(DType.F32, 4 * 16);
        // The second sequence claims slots up to 12: past its table's 3 pages.
        var tooLong = batch.Layer with { Sequences = [batch.Sequences[0], batch.Sequences[1] with { FirstSlot = 10 }] };
        Assert.Throws<ArgumentException>(() => Backend.KvWrite(pool, tooLong, keys, keys));
    }

    /// <summary>Halfway cases, f16 subnormals, f16 overflow: where a wrong rounding shows.</summary>
    private static void PlantRoundingCases(float[] keys)
    {
        float[] cases =
        [
            1.00048828125f,                                   // 1 + 2^-11: f16 tie, rounds to even (1.0)
            1.00146484375f,                                   // 1 + 3 * 2^-11: f16 tie, rounds up
            BitConverter.UInt32BitsToSingle(0x3F808000),      // bf16 tie, rounds to even
            BitConverter.UInt32BitsToSingle(0x3F818000),      // bf16 tie, rounds up
            3e-6f, -7.5e-8f, 2.9802322e-8f,                    // f16 subnormals and the halfway-to-zero value
            65519f, 65520f, -1e6f,                             // f16 max after rounding, overflow to infinity
        ];
        Array.Copy(cases, keys, Math.Min(cases.Length, keys.Length));
    }

    internal static int[] Shuffled(int count, Random rng)
    {
        int[] ids = Enumerable.Range(0, count).ToArray();
        rng.Shuffle(ids);
        return ids;
    }
}
