namespace Engine.Models.Kv;

/// <summary>
/// One sequence in the paged KV store: its pages per layer (<see cref="LayerKv"/>), the tokens it has
/// seen (<see cref="LogicalLength"/>, which gives the next token's position whatever compression did
/// to the slots), its page reservation and its KV policy with that policy's state for this sequence.
/// Disposing returns every page and the rest of the reservation to the pool.
/// </summary>
public sealed class KvSequence : IDisposable
{
    private bool _disposed;

    internal KvSequence(PagedKvCache cache, int reservedPages, IKvCachePolicy? policy)
    {
        Cache = cache;
        ReservedPages = reservedPages;
        Layers = Enumerable.Range(0, cache.Layers).Select(_ => new LayerKv(this)).ToArray();
        Policy = policy;
        PolicyState = policy?.CreateState(cache.Layers);
    }

    public PagedKvCache Cache { get; }
    public LayerKv[] Layers { get; }
    /// <summary>Tokens seen (prompt and generated tokens fed so far).</summary>
    public int LogicalLength { get; set; }
    /// <summary>Pages promised to this sequence (when it was created, and by later extensions).</summary>
    public int ReservedPages { get; internal set; }
    /// <summary>Pages held now, all layers.</summary>
    public int PagesHeld { get; private set; }
    /// <summary>The KV-cache policy compressing this sequence (null: full cache) and its state for this sequence.</summary>
    public IKvCachePolicy? Policy { get; }
    public KvPolicyState? PolicyState { get; }
    public bool IsDisposed => _disposed;

    /// <summary>Pages appending <paramref name="rows"/> slots to every layer would add.</summary>
    public int PagesToAppend(int rows) => Layers.Sum(l => l.PagesToGrow(l.PhysicalLength + rows));

    /// <summary>Whether the pool can give this sequence the pages <see cref="Append"/> of <paramref name="rows"/> needs.</summary>
    public bool CanAppend(int rows) => PagesToAppend(rows) <= Cache.AvailableTo(this);

    /// <summary>Makes room for <paramref name="rows"/> more slots in every layer (before the forward step writes them).</summary>
    public void Append(int rows)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var layer in Layers) layer.Grow(layer.PhysicalLength + rows);
    }

    /// <summary>Whether some layer holds fewer slots than tokens seen (a policy compressed it).</summary>
    public bool IsCompressed => Layers.Any(l => l.PhysicalLength != LogicalLength);

    /// <summary>Forgets every token from <paramref name="length"/> on (an uncompressed cache only: a compressed one cannot be rewound).</summary>
    public void Rewind(int length)
    {
        if (length < 0 || length > LogicalLength) throw new ArgumentOutOfRangeException(nameof(length));
        if (IsCompressed) throw new InvalidOperationException("a compressed KV cache cannot be rewound");
        foreach (var layer in Layers) layer.Shrink(length);
        LogicalLength = length;
    }

    /// <summary>Per-layer statistics of what the policy did (all layers; zero compressions without a policy).</summary>
    public IReadOnlyList<KvLayerStats> Stats() =>
        Layers.Select((layer, i) => new KvLayerStats(i, Policy?.Compresses(i) != true,
            PolicyState?.Compressions[i] ?? 0, PolicyState?.CompressedPartitions(i) ?? 0, layer.PhysicalLength, LogicalLength)).ToArray();

    internal int AllocatePage()
    {
        int page = Cache.Allocate(this);
        PagesHeld++;
        return page;
    }

    internal void FreePage(int page)
    {
        Cache.Free(this, page);
        PagesHeld--;
    }

    public void Dispose()
    {
        if (_disposed) return;
        foreach (var layer in Layers) layer.Shrink(0);
        _disposed = true;
        LogicalLength = 0;
        Cache.Forget(this);
    }
}
