using Engine.Core;
using Engine.Core.Kv;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;
using Engine.Models.Kv;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>
/// <see cref="LagKvPolicy"/> driven like the forward pass drives it (KvWrite, then AfterAttention per
/// layer) over prefill chunks and many decode steps: lengths follow the formula, the device cache
/// holds exactly the float64 reference's kept tokens, pages never leak, no KV byte goes to the host.
/// </summary>
[TestFixture]
public class LagKvPolicyTests
{
    private const int Layers = 3, KvHeads = 2, HeadDim = 16, PageSize = 8;

    public static IEnumerable<TestCaseData> Cases() =>
        TestBackends.Available().SelectMany(b => new[]
        {
            new TestCaseData(b, new[] { 100, 37, 163 }, 400),
            new TestCaseData(b, new[] { 4 + 2 * 32 }, 300),
            new TestCaseData(b, new[] { 20 }, 260),
        });

    [TestCaseSource(nameof(Cases))]
    public void CompressesOnScheduleWithoutLeaksOrHostTraffic(string backendName, int[] prefillChunks, int decodeSteps)
    {
        using IBackend backend = TestBackends.Create(backendName);
        if (backend is not ILagKvOps) { Assert.Ignore($"{backendName} has no LagKV ops"); return; }
        var options = new LagKvOptions { SinkSize = 4, LagSize = 32, Retention = 0.25, SkipLayers = new HashSet<int> { 1 } };
        options.Validate(Layers);
        int[] steps = [.. prefillChunks, .. Enumerable.Repeat(1, decodeSteps)];
        int tokens = steps.Sum();

        var random = new Random(tokens);
        // Per layer: K/V [kvHeads, tokens, dim] for the host reference.
        float[][] keys = Enumerable.Range(0, Layers).Select(_ => RandomData(random, KvHeads * tokens * HeadDim)).ToArray();
        float[][] values = Enumerable.Range(0, Layers).Select(_ => RandomData(random, KvHeads * tokens * HeadDim)).ToArray();
        var references = Enumerable.Range(0, Layers)
            .Select(l => new LagKvHostCache(options, keys[l], values[l], KvHeads, tokens, HeadDim)).ToArray();

        int pageCount = Layers * (tokens / PageSize + 2);
        var allocator = new PageAllocator(pageCount, KvPool.BytesPerPageFor(KvHeads, PageSize, HeadDim, DType.F32));
        using var pool = new KvPool(backend, pageCount, KvHeads, PageSize, HeadDim, DType.F32);
        using var policy = new LagKvPolicy(options);
        var sequence = new SequenceKv(Layers, PageSize, allocator);
        var pageTables = Enumerable.Range(0, Layers).Select(_ => backend.Allocate(DType.I32, pageCount)).ToArray();
        var uploadedVersion = Enumerable.Repeat(-1, Layers).ToArray();
        var shape = new AttentionShape(KvHeads * 2, KvHeads, HeadDim);
        using var queries = backend.Allocate(DType.F32, (long)prefillChunks.Max() * shape.Heads * HeadDim);
        long bytesToHost = backend.Transfers.BytesToHost;

        int seen = 0;
        for (int s = 0; s < steps.Length; s++)
        {
            int n = steps[s];
            bool prefill = s < prefillChunks.Length;
            for (int l = 0; l < Layers; l++)
            {
                LayerKv layer = sequence.Layers[l];
                int start = layer.PhysicalLength;
                layer.Grow(start + n, allocator);
                SyncPageTable(backend, layer, pageTables[l], ref uploadedVersion[l]);
                using var k = backend.Allocate(DType.F32, (long)n * KvHeads * HeadDim);
                using var v = backend.Allocate(DType.F32, (long)n * KvHeads * HeadDim);
                backend.Upload<float>(k, StepRows(keys[l], tokens, seen, n));
                backend.Upload<float>(v, StepRows(values[l], tokens, seen, n));
                backend.KvWrite(pool, pageTables[l], k, v, start, n);
                policy.AfterAttention(new KvStepContext(backend, pool, sequence, l, pageTables[l], n, prefill,
                    s == prefillChunks.Length - 1, queries, shape));
                SyncPageTable(backend, layer, pageTables[l], ref uploadedVersion[l]);
                if (options.Compresses(l)) references[l].Update(n);
            }
            seen += n;
            sequence.LogicalLength = seen;
            for (int l = 0; l < Layers; l++)
            {
                int expected = options.Compresses(l) ? (int)LagKvSchedule.LengthAfter(options, seen) : seen;
                Assert.That(sequence.Layers[l].PhysicalLength, Is.EqualTo(expected), $"layer {l} after {seen} tokens");
                Assert.That(sequence.Layers[l].Pages.Count, Is.EqualTo((expected + PageSize - 1) / PageSize), $"layer {l} pages");
            }
            Assert.That(allocator.UsedPages, Is.EqualTo(sequence.PagesHeld));
        }
        Assert.That(backend.Transfers.BytesToHost, Is.EqualTo(bytesToHost), "LagKV moved bytes to the host");

        var stats = policy.Stats(sequence);
        int compressionsSeen = stats.Sum(x => x.Compressions);
        Assert.That(compressionsSeen, Is.GreaterThan(0));
        Assert.That(stats[1].Skipped && stats[1].Compressions == 0 && stats[1].PhysicalLength == tokens);
        Assert.That(stats[0].CompressedPartitions, Is.EqualTo(LagKvSchedule.CompressedPartitionsAfter(options, tokens)));

        // The device cache holds exactly the reference's tokens, in its order, for every head.
        var hostKeys = new float[pool.Keys.Length];
        var hostValues = new float[pool.Values.Length];
        backend.Download<float>(pool.Keys, hostKeys);
        backend.Download<float>(pool.Values, hostValues);
        var layout = KvPoolLayout.Of(pool);
        foreach (int l in new[] { 0, 2 })
        {
            int[] table = sequence.Layers[l].Pages.ToArray();
            for (int h = 0; h < KvHeads; h++)
            {
                IReadOnlyList<int> expectedTokens = references[l].Slots(h);
                Assert.That(sequence.Layers[l].PhysicalLength, Is.EqualTo(expectedTokens.Count));
                for (int slot = 0; slot < expectedTokens.Count; slot++)
                {
                    long offset = layout.SlotOffset(table, h, slot);
                    long source = ((long)h * tokens + expectedTokens[slot]) * HeadDim;
                    Assert.That(hostKeys.AsSpan((int)offset, HeadDim).ToArray(), Is.EqualTo(keys[l].AsSpan((int)source, HeadDim).ToArray()),
                        $"layer {l} head {h} slot {slot} should hold token {expectedTokens[slot]}");
                    Assert.That(hostValues.AsSpan((int)offset, HeadDim).ToArray(), Is.EqualTo(values[l].AsSpan((int)source, HeadDim).ToArray()));
                }
            }
        }

        sequence.Dispose();
        policy.Forget(sequence);
        foreach (var table in pageTables) table.Dispose();
        Assert.That(allocator.FreePages, Is.EqualTo(pageCount), "pages leaked");
    }

    [Test]
    public void PressModeIsRejectedUntilImplemented()
    {
        var e = Assert.Throws<EngineException>(() => new LagKvPolicy(new LagKvOptions { Retention = 0.5, Mode = LagKvMode.Press }))!;
        Assert.That(e.Message, Does.Contain("press"));
    }

    private static void SyncPageTable(IBackend backend, LayerKv layer, DeviceArray table, ref int version)
    {
        if (layer.Version == version) return;
        backend.Upload<int>(table, layer.Pages.ToArray());
        version = layer.Version;
    }

    /// <summary>Rows [first, first + n) of [kvHeads, tokens, dim] data as the forward pass hands them over: [n, kvHeads, dim].</summary>
    private static float[] StepRows(float[] data, int tokens, int first, int n)
    {
        var rows = new float[n * KvHeads * HeadDim];
        for (int t = 0; t < n; t++)
            for (int h = 0; h < KvHeads; h++)
                Array.Copy(data, ((long)h * tokens + first + t) * HeadDim, rows, (t * KvHeads + h) * HeadDim, HeadDim);
        return rows;
    }

    private static float[] RandomData(Random random, int count)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++) data[i] = (float)(random.NextDouble() * 4 - 2) + 1e-3f;
        return data;
    }
}
