using Engine.Core;
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
        Cache = new PagedKvCache(backend, layers, KvHeads, HeadDim, PageCount, PageSize, dtype);
        Scratch = new KvPolicyScratch(backend);
        _pageTables = Enumerable.Range(0, layers).Select(_ => backend.Allocate(DType.I32, PageCount)).ToArray();
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
    public PagedKvCache Cache { get; }
    public KvPool Pool => Cache.Pool;
    public KvPolicyScratch Scratch { get; }
    /// <summary>The sequence under test, created with the policy of the first step (its state lives on it).</summary>
    public KvSequence Sequence => _sequence ?? throw new InvalidOperationException("no step has run yet");
    private KvSequence? _sequence;
    public int Seen { get; private set; }

    /// <summary>One forward step of <paramref name="n"/> tokens through every layer.</summary>
    public void Step(IKvCachePolicy policy, int n, bool prefill)
    {
        _sequence ??= Cache.CreateSequence(0, policy);
        for (int l = 0; l < Layers; l++)
        {
            LayerKv layer = Sequence.Layers[l];
            int start = layer.PhysicalLength;
            layer.Grow(start + n);
            SyncPageTable(l);
            using var k = Backend.Allocate(DType.F32, (long)n * KvHeads * HeadDim);
            using var v = Backend.Allocate(DType.F32, (long)n * KvHeads * HeadDim);
            Backend.Upload<float>(k, StepRows(Keys[l], Seen, n));
            Backend.Upload<float>(v, StepRows(Values[l], Seen, n));
            Backend.Upload<float>(_queries, Queries[l].AsSpan(Seen * Heads * HeadDim, n * Heads * HeadDim));
            Backend.KvWrite(Pool, _pageTables[l], k, v, start, n);
            policy.AfterAttention(new KvStepContext(Backend, Pool, Sequence, l, _pageTables[l], n, prefill, false, _queries, Shape, Scratch));
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
        Assert.That(Cache.FreePages, Is.EqualTo(PageCount), "pages leaked");
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
        if (kv.Pages.Count > 0) Backend.Upload<int>(_pageTables[layer], kv.Pages.ToArray());
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
        Scratch.Dispose();
        Cache.Dispose();
    }
}
