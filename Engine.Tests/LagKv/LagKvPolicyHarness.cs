using Engine.Core;
using Engine.Kernels;
using Engine.Models.Kv;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>
/// Drives a KV-cache policy the way the forward pass does (grow, KvWrite, AfterAttention, page-table
/// re-upload per layer) with random K/V per layer, without a model. The K/V of layer l are kept on
/// the host as [kvHeads, tokens, dim] so tests can say which token each slot must hold.
/// </summary>
public sealed class LagKvPolicyHarness : IDisposable
{
    public const int KvHeads = 2, HeadDim = 16, PageSize = 8;

    private readonly DeviceArray[] _pageTables;
    private readonly DeviceArray _queries;
    private readonly AttentionShape _shape = new(KvHeads * 2, KvHeads, HeadDim);

    public LagKvPolicyHarness(IBackend backend, int layers, int tokens, int maxStep, int seed)
    {
        Backend = backend;
        Layers = layers;
        Tokens = tokens;
        var random = new Random(seed);
        Keys = Enumerable.Range(0, layers).Select(_ => RandomData(random, KvHeads * tokens * HeadDim)).ToArray();
        Values = Enumerable.Range(0, layers).Select(_ => RandomData(random, KvHeads * tokens * HeadDim)).ToArray();
        PageCount = layers * (tokens / PageSize + 2);
        Cache = new PagedKvCache(backend, layers, KvHeads, HeadDim, PageCount, PageSize, DType.F32);
        Scratch = new KvPolicyScratch(backend);
        _pageTables = Enumerable.Range(0, layers).Select(_ => backend.Allocate(DType.I32, PageCount)).ToArray();
        _queries = backend.Allocate(DType.F32, (long)maxStep * _shape.Heads * HeadDim);
    }

    public IBackend Backend { get; }
    public int Layers { get; }
    public int Tokens { get; }
    public int PageCount { get; }
    public float[][] Keys { get; }
    public float[][] Values { get; }
    public PagedKvCache Cache { get; }
    public KvPool Pool => Cache.Pool;
    public KvPolicyScratch Scratch { get; }
    /// <summary>The sequence under test, created with the policy of the first step (its state lives on it).</summary>
    public KvSequence Sequence => _sequence ?? throw new InvalidOperationException("no step has run yet");
    private KvSequence? _sequence;
    public int Seen { get; private set; }

    /// <summary>One forward step of <paramref name="n"/> tokens through every layer.</summary>
    public void Step(IKvCachePolicy policy, int n, bool prefill, bool lastPrefillChunk)
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
            Backend.KvWrite(Pool, _pageTables[l], k, v, start, n);
            policy.AfterAttention(new KvStepContext(Backend, Pool, Sequence, l, _pageTables[l], n, prefill, lastPrefillChunk, _queries, _shape, Scratch));
            SyncPageTable(l);
        }
        Seen += n;
        Sequence.LogicalLength = Seen;
    }

    /// <summary>Asserts that each slot of a layer's head holds the K/V of the given original token.</summary>
    public void AssertHolds(int layer, int head, IReadOnlyList<int> tokens)
    {
        Assert.That(Sequence.Layers[layer].PhysicalLength, Is.EqualTo(tokens.Count), $"layer {layer} length");
        var hostKeys = new float[Pool.Keys.Length];
        var hostValues = new float[Pool.Values.Length];
        Backend.Download<float>(Pool.Keys, hostKeys);
        Backend.Download<float>(Pool.Values, hostValues);
        var layout = Pool.Layout;
        int[] table = Sequence.Layers[layer].Pages.ToArray();
        for (int slot = 0; slot < tokens.Count; slot++)
        {
            long offset = layout.SlotOffset(table, head, slot);
            long source = ((long)head * Tokens + tokens[slot]) * HeadDim;
            Assert.That(hostKeys.AsSpan((int)offset, HeadDim).ToArray(), Is.EqualTo(Keys[layer].AsSpan((int)source, HeadDim).ToArray()),
                $"layer {layer} head {head} slot {slot} should hold token {tokens[slot]}");
            Assert.That(hostValues.AsSpan((int)offset, HeadDim).ToArray(), Is.EqualTo(Values[layer].AsSpan((int)source, HeadDim).ToArray()));
        }
    }

    /// <summary>Releases the sequence's pages and asserts the pool got every page back.</summary>
    public void ReleaseAndAssertNoLeak()
    {
        Sequence.Dispose();
        Assert.That(Cache.FreePages, Is.EqualTo(PageCount), "pages leaked");
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

    private static float[] RandomData(Random random, int count)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++) data[i] = (float)(random.NextDouble() * 4 - 2) + 1e-3f;
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
