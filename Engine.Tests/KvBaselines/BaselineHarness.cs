using Engine.Core;
using Engine.Core.Kv;
using Engine.Kernels;
using Engine.Models.Kv;
using NUnit.Framework;

namespace Engine.Tests.KvBaselines;

/// <summary>
/// Drives a KV-cache policy the way the forward pass does (grow, KvWrite, AfterAttention with the
/// step's queries, page-table re-upload) with random K, V and Q per layer, without a model. Data are
/// kept on the host: K/V as [kvHeads, tokens, dim], Q as [tokens, heads, dim], per layer.
/// </summary>
public sealed class BaselineHarness : IDisposable
{
    public const int KvHeads = 2, Heads = 4, HeadDim = 16, PageSize = 8;

    private readonly DeviceArray[] _pageTables;
    private readonly int[] _uploadedVersion;
    private readonly DeviceArray _queries;

    public BaselineHarness(IBackend backend, int layers, int tokens, int maxStep, int seed, DType dtype = DType.F32)
    {
        Backend = backend;
        Layers = layers;
        Tokens = tokens;
        var random = new Random(seed);
        Keys = Enumerable.Range(0, layers).Select(_ => RandomData(random, KvHeads * tokens * HeadDim, dtype)).ToArray();
        Values = Enumerable.Range(0, layers).Select(_ => RandomData(random, KvHeads * tokens * HeadDim, dtype)).ToArray();
        Queries = Enumerable.Range(0, layers).Select(_ => RandomData(random, tokens * Heads * HeadDim, DType.F32)).ToArray();
        PageCount = layers * (tokens / PageSize + 2);
        Allocator = new PageAllocator(PageCount, KvPool.BytesPerPageFor(KvHeads, PageSize, HeadDim, dtype));
        Pool = new KvPool(backend, PageCount, KvHeads, PageSize, HeadDim, dtype);
        Sequence = new SequenceKv(layers, PageSize, Allocator);
        _pageTables = Enumerable.Range(0, layers).Select(_ => backend.Allocate(DType.I32, PageCount)).ToArray();
        _uploadedVersion = Enumerable.Repeat(-1, layers).ToArray();
        _queries = backend.Allocate(DType.F32, (long)maxStep * Heads * HeadDim);
    }

    public IBackend Backend { get; }
    public AttentionShape Shape { get; } = new(Heads, KvHeads, HeadDim);
    public int Layers { get; }
    public int Tokens { get; }
    public int PageCount { get; }
    public float[][] Keys { get; }
    public float[][] Values { get; }
    public float[][] Queries { get; }
    public PageAllocator Allocator { get; }
    public KvPool Pool { get; }
    public SequenceKv Sequence { get; }
    public int Seen { get; private set; }

    /// <summary>One forward step of <paramref name="n"/> tokens through every layer.</summary>
    public void Step(IKvCachePolicy policy, int n, bool prefill)
    {
        for (int l = 0; l < Layers; l++)
        {
            LayerKv layer = Sequence.Layers[l];
            int start = layer.PhysicalLength;
            layer.Grow(start + n, Allocator);
            SyncPageTable(l);
            using var k = Backend.Allocate(DType.F32, (long)n * KvHeads * HeadDim);
            using var v = Backend.Allocate(DType.F32, (long)n * KvHeads * HeadDim);
            Backend.Upload<float>(k, StepRows(Keys[l], Seen, n));
            Backend.Upload<float>(v, StepRows(Values[l], Seen, n));
            Backend.Upload<float>(_queries, Queries[l].AsSpan(Seen * Heads * HeadDim, n * Heads * HeadDim));
            Backend.KvWrite(Pool, _pageTables[l], k, v, start, n);
            policy.AfterAttention(new KvStepContext(Backend, Pool, Sequence, l, _pageTables[l], n, prefill, false, _queries, Shape));
            SyncPageTable(l);
        }
        Seen += n;
        Sequence.LogicalLength = Seen;
    }

    /// <summary>Asserts that each slot of a layer's head holds the K/V of the given original token.</summary>
    public void AssertHolds(int layer, int head, IReadOnlyList<int> tokens)
    {
        Assert.That(Sequence.Layers[layer].PhysicalLength, Is.EqualTo(tokens.Count), $"layer {layer} length");
        var layout = Pool.Layout;
        float[] keys = Download(Pool.Keys), values = Download(Pool.Values);
        int[] table = Sequence.Layers[layer].Pages.ToArray();
        var held = new int[tokens.Count];
        for (int slot = 0; slot < tokens.Count; slot++)
        {
            long offset = layout.SlotOffset(table, head, slot);
            held[slot] = -1;
            for (int t = 0; t < Tokens && held[slot] < 0; t++)
            {
                long source = ((long)head * Tokens + t) * HeadDim;
                if (keys.AsSpan((int)offset, HeadDim).SequenceEqual(Keys[layer].AsSpan((int)source, HeadDim))
                    && values.AsSpan((int)offset, HeadDim).SequenceEqual(Values[layer].AsSpan((int)source, HeadDim)))
                    held[slot] = t;
            }
        }
        Assert.That(held, Is.EqualTo(tokens.ToArray()), $"original tokens held by layer {layer} head {head}");
    }

    /// <summary>Releases the sequence's pages and asserts the pool got every page back.</summary>
    public void ReleaseAndAssertNoLeak()
    {
        Sequence.Dispose();
        Assert.That(Allocator.FreePages, Is.EqualTo(PageCount), "pages leaked");
    }

    private float[] Download(DeviceArray array)
    {
        var host = new float[array.Length];
        if (array.DType == DType.F32) { Backend.Download<float>(array, host); return host; }
        var bits = new ushort[array.Length];
        Backend.Download<ushort>(array, bits);
        for (int i = 0; i < bits.Length; i++) host[i] = BFloat16.ToFloat(bits[i]);
        return host;
    }

    private void SyncPageTable(int layer)
    {
        LayerKv kv = Sequence.Layers[layer];
        if (kv.Version == _uploadedVersion[layer]) return;
        Backend.Upload<int>(_pageTables[layer], kv.Pages.ToArray());
        _uploadedVersion[layer] = kv.Version;
    }

    /// <summary>Rows [first, first + n) of [kvHeads, tokens, dim] data as the forward pass hands them over: [n, kvHeads, dim].</summary>
    private float[] StepRows(float[] data, int first, int n)
    {
        var rows = new float[n * KvHeads * HeadDim];
        for (int t = 0; t < n; t++)
            for (int h = 0; h < KvHeads; h++)
                Array.Copy(data, ((long)h * Tokens + first + t) * HeadDim, rows, (t * KvHeads + h) * HeadDim, HeadDim);
        return rows;
    }

    /// <summary>Random non-zero data; for a BF16 pool, values exactly representable in bf16 so slots compare exactly.</summary>
    private static float[] RandomData(Random random, int count, DType dtype)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            float x = (float)(random.NextDouble() * 4 - 2) + 1e-3f;
            data[i] = dtype == DType.BF16 ? BFloat16.ToFloat(BFloat16.FromFloat(x)) : x;
        }
        return data;
    }

    public void Dispose()
    {
        foreach (var table in _pageTables) table.Dispose();
        _queries.Dispose();
        Pool.Dispose();
    }
}
