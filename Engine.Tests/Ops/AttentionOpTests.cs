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
