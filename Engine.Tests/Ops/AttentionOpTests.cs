using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class AttentionOpTests(string backend) : OpTestBase(backend)
{
    /// <summary>(heads, kvHeads, headDim): GQA group sizes 1, 2 and 4, and a wide head.</summary>
    private static readonly (int Heads, int KvHeads, int HeadDim)[] Shapes = [(2, 2, 8), (4, 2, 16), (8, 2, 32), (2, 1, 128)];

    private static IEnumerable<TestCaseData> Cases()
    {
        (int Length, int Queries)[] scenarios =
        [
            (1, 1), (37, 1), (300, 1),   // decode: one slot, a few pages, long enough to be split
            (5, 5), (20, 20),            // a first prefill chunk: causal within the chunk
            (50, 7), (24, 9),            // a later chunk over a cached prefix
        ];
        // The pool dtype only changes how K/V are widened: the 16-bit pools get the split decode and a cached-prefix chunk.
        (int Length, int Queries)[] narrowScenarios = [(300, 1), (50, 7)];
        foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 })
            foreach (var shape in Shapes)
                foreach (var (length, queries) in dtype == DType.F32 ? scenarios : narrowScenarios)
                    if (shape.HeadDim <= 32 || length <= 50) // keep the wide head cheap on the simulator
                        yield return new TestCaseData(dtype, shape.Heads, shape.KvHeads, shape.HeadDim, length, queries);
    }

    [TestCaseSource(nameof(Cases))]
    public void MatchesReference(DType poolType, int heads, int kvHeads, int headDim, int length, int queries) =>
        RunCase(poolType, heads, kvHeads, headDim, length, queries);

    [Test]
    public void MultiWarpGroupsMatchReference([Values(1, 10)] int queries)
    {
        // The simulator defaults to one-warp groups for speed; GPUs run several warps per group.
        if (Backend is not IlgpuBackend ilgpu) { Assert.Ignore("ILGPU-specific group size"); return; }
        ilgpu.AttentionThreadsOverride = 64;
        try { RunCase(DType.BF16, 4, 2, 16, queries == 1 ? 200 : 20, queries); }
        finally { ilgpu.AttentionThreadsOverride = null; }
    }

    [Test]
    public void HeadDimensionsOfPartialPacksMatchReference([Values(1, 7)] int queries)
    {
        // 12 bf16 elements are 1.5 16-byte packs: ILGPU stages such K/V rows element by element.
        RunCase(DType.BF16, 4, 2, 12, 50, queries);
    }

    private void RunCase(DType poolType, int heads, int kvHeads, int headDim, int length, int queries)
    {
        var rng = Rng(poolType, heads, kvHeads, headDim, length, queries);
        var layout = new KvLayout(kvHeads, PageSize: 16, headDim);
        int pagesNeeded = (length + layout.PageSize - 1) / layout.PageSize;
        int pageCount = pagesNeeded + 3; // spare pages hold unrelated data that must not be read
        using var pool = new KvPool(Backend, pageCount, kvHeads, layout.PageSize, headDim, poolType);
        int elements = (int)pool.ElementsPerPage * pageCount;
        var keys = TestTensor.Random(poolType, elements, rng);
        var values = TestTensor.Random(poolType, elements, rng);
        keys.UploadTo(Backend, pool.Keys);
        values.UploadTo(Backend, pool.Values);
        int[] pageTable = KvWriteOpTests.Shuffled(pageCount, rng).Take(pagesNeeded).ToArray();
        var q = TestTensor.Random(DType.F32, queries * heads * headDim, rng);
        using var tableDev = TestTensor.Ints(Backend, pageTable);
        using var qDev = q.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, q.Length);

        Backend.Attention(qDev, pool, tableDev, length, output, queries, new AttentionShape(heads, kvHeads, headDim));

        double[] expected = OpReference.Attention(q.Values, keys.Values, values.Values, pageTable, layout, length, queries, heads);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, q.Length), 2e-5, 1e-4, "attention");
    }

    /// <summary>
    /// A mixed step: decode rows of different lengths (one slot, a page boundary, long enough to split)
    /// between a first prefill chunk and a chunk over a cached prefix, in no particular order.
    /// </summary>
    internal static readonly (int Rows, int FirstSlot)[] MixedBatch = [(1, 299), (5, 0), (1, 0), (7, 43), (1, 36), (1, 130)];

    private static IEnumerable<TestCaseData> BatchCases()
    {
        foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 })
            foreach (var shape in dtype == DType.F32 ? Shapes.Where(s => s.HeadDim <= 32) : Shapes.Skip(1).Take(1))
                yield return new TestCaseData(dtype, shape.Heads, shape.KvHeads, shape.HeadDim);
    }

    [TestCaseSource(nameof(BatchCases))]
    public void BatchMatchesReference(DType poolType, int heads, int kvHeads, int headDim) => RunBatchCase(poolType, heads, kvHeads, headDim);

    [Test]
    public void BatchMultiWarpGroupsMatchReference()
    {
        if (Backend is not IlgpuBackend ilgpu) { Assert.Ignore("ILGPU-specific group size"); return; }
        ilgpu.AttentionThreadsOverride = 64;
        try { RunBatchCase(DType.BF16, 4, 2, 16); }
        finally { ilgpu.AttentionThreadsOverride = null; }
    }

    [Test]
    public void BatchOfDecodeRowsOfDifferentLengths([Values(DType.F32, DType.F16)] DType poolType)
    {
        // Few decode rows: ILGPU's grid covers the longest row's splits, leaving the shorter rows' last splits empty.
        RunBatchCase(poolType, 2, 1, 8, [(1, 299), (1, 0), (1, 40)]);
    }

    /// <summary>
    /// The batch against the float64 reference, and against each sequence run alone: a batch of one,
    /// which must give the per-sequence op's bits; and in the batch, a sequence's rows give exactly what they
    /// give alone (on every backend: ILGPU's decode splits have a fixed size, its prefill tiles attend each
    /// sequence's rows separately, and every output is summed in the same order whatever shares its tile).
    /// </summary>
    private void RunBatchCase(DType poolType, int heads, int kvHeads, int headDim, (int Rows, int FirstSlot)[]? sequences = null)
    {
        sequences ??= MixedBatch;
        var rng = Rng("batch", poolType, heads, kvHeads, headDim);
        var layout = new KvLayout(kvHeads, PageSize: 16, headDim);
        var shape = new AttentionShape(heads, kvHeads, headDim);
        using var batch = TestBatch.Create(Backend, layout.PageSize, sequences, rng);
        using var pool = new KvPool(Backend, batch.PageCount, kvHeads, layout.PageSize, headDim, poolType);
        int elements = (int)pool.ElementsPerPage * batch.PageCount;
        var keys = TestTensor.Random(poolType, elements, rng);
        var values = TestTensor.Random(poolType, elements, rng);
        keys.UploadTo(Backend, pool.Keys);
        values.UploadTo(Backend, pool.Values);
        int qDim = heads * headDim;
        var q = TestTensor.Random(DType.F32, batch.Rows * qDim, rng);
        using var qDev = q.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, q.Length);

        Backend.Attention(qDev, pool, batch.Layer, output, shape);

        double[] batched = TestTensor.Download(Backend, output, q.Length);
        Tolerance.AssertClose(OpReference.Attention(q.Values, keys.Values, values.Values, batch, layout, heads), batched, 2e-5, 1e-4, "batched attention");
        for (int s = 0; s < batch.Sequences.Length; s++)
        {
            var seq = batch.Sequences[s];
            using var alone = batch.Alone(s);
            using var qAlone = Backend.Allocate(DType.F32, (long)seq.Rows * qDim);
            using var aloneOutput = Backend.Allocate(DType.F32, (long)seq.Rows * qDim);
            using var perSequenceOutput = Backend.Allocate(DType.F32, (long)seq.Rows * qDim);
            Backend.Upload<float>(qAlone, q.Floats.AsSpan(seq.FirstRow * qDim, seq.Rows * qDim));
            using var table = TestTensor.Ints(Backend, batch.Tables[s]);
            Backend.Attention(qAlone, pool, alone.Layer, aloneOutput, shape);
            Backend.Attention(qAlone, pool, table, seq.FirstSlot + seq.Rows, perSequenceOutput, seq.Rows, shape);

            double[] aloneResult = TestTensor.Download(Backend, aloneOutput, (long)seq.Rows * qDim);
            Assert.That(TestTensor.Download(Backend, perSequenceOutput, (long)seq.Rows * qDim), Is.EqualTo(aloneResult), $"sequence {s}: batch of one vs per-sequence op");
            double[] inBatch = batched[(seq.FirstRow * qDim)..((seq.FirstRow + seq.Rows) * qDim)];
            Assert.That(inBatch, Is.EqualTo(aloneResult), $"sequence {s}: in the batch vs alone");
        }
    }

    [Test]
    public void BatchSeesKeysWrittenByBatchedKvWrite([Values(DType.F32, DType.BF16)] DType poolType)
    {
        // The batched forward pass's order: write every row's K/V, then attend, each row over its own sequence.
        var rng = Rng("batch flow", poolType);
        const int heads = 4, kvHeads = 2, headDim = 16;
        var layout = new KvLayout(kvHeads, PageSize: 4, headDim);
        (int Rows, int FirstSlot)[] shape = [(1, 0), (6, 0), (1, 9)];
        using var batch = TestBatch.Create(Backend, layout.PageSize, shape, rng);
        using var pool = new KvPool(Backend, batch.PageCount, kvHeads, layout.PageSize, headDim, poolType);
        int elements = (int)pool.ElementsPerPage * batch.PageCount;
        var old = TestTensor.Random(poolType, elements, rng);
        old.UploadTo(Backend, pool.Keys);
        old.UploadTo(Backend, pool.Values);
        var k = TestTensor.Random(DType.F32, batch.Rows * kvHeads * headDim, rng);
        var v = TestTensor.Random(DType.F32, batch.Rows * kvHeads * headDim, rng);
        var q = TestTensor.Random(DType.F32, batch.Rows * heads * headDim, rng);
        using var kDev = k.ToDevice(Backend);
        using var vDev = v.ToDevice(Backend);
        using var qDev = q.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, q.Length);

        Backend.KvWrite(pool, batch.Layer, kDev, vDev);
        Backend.Attention(qDev, pool, batch.Layer, output, new AttentionShape(heads, kvHeads, headDim));

        Func<float, double> store = f => TestTensor.RoundTo(poolType, f);
        double[] poolKeys = OpReference.KvWrite(old.Values, batch, k.Floats!, layout, store);
        double[] poolValues = OpReference.KvWrite(old.Values, batch, v.Floats!, layout, store);
        double[] expected = OpReference.Attention(q.Values, poolKeys, poolValues, batch, layout, heads);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, q.Length), 2e-5, 1e-4, "batched attention after batched KV write");
    }

    [Test]
    public void SeesKeysWrittenByKvWrite([Values(DType.F32, DType.BF16)] DType poolType)
    {
        // The forward pass's order: write a chunk's K/V, then attend over cached prefix + chunk.
        var rng = Rng("flow", poolType);
        const int heads = 4, kvHeads = 2, headDim = 16, prefix = 9, chunk = 6, length = prefix + chunk;
        var layout = new KvLayout(kvHeads, PageSize: 4, headDim);
        using var pool = new KvPool(Backend, 6, kvHeads, layout.PageSize, headDim, poolType);
        int[] pageTable = KvWriteOpTests.Shuffled(6, rng).Take(4).ToArray();
        using var tableDev = TestTensor.Ints(Backend, pageTable);
        var k = TestTensor.Random(DType.F32, length * kvHeads * headDim, rng);
        var v = TestTensor.Random(DType.F32, length * kvHeads * headDim, rng);
        using var kDev = k.ToDevice(Backend);
        using var vDev = v.ToDevice(Backend);
        int prefixElements = prefix * kvHeads * headDim;
        Backend.KvWrite(pool, tableDev, kDev, vDev, 0, prefix);
        Backend.KvWrite(pool, tableDev, kDev.View(prefixElements, k.Length - prefixElements), vDev.View(prefixElements, v.Length - prefixElements), prefix, chunk);
        var q = TestTensor.Random(DType.F32, chunk * heads * headDim, rng);
        using var qDev = q.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, q.Length);

        Backend.Attention(qDev, pool, tableDev, length, output, chunk, new AttentionShape(heads, kvHeads, headDim));

        int elements = (int)pool.ElementsPerPage * 6;
        double[] poolKeys = OpReference.KvWrite(new double[elements], pageTable, k.Floats!, layout, 0, length, f => TestTensor.RoundTo(poolType, f));
        double[] poolValues = OpReference.KvWrite(new double[elements], pageTable, v.Floats!, layout, 0, length, f => TestTensor.RoundTo(poolType, f));
        double[] expected = OpReference.Attention(q.Values, poolKeys, poolValues, pageTable, layout, length, chunk, heads);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, q.Length), 2e-5, 1e-4, "attention after KV write");
    }
}
