namespace Engine.Core.Kv;

/// <summary>
/// A sequence's KV cache across layers. <see cref="LogicalLength"/> counts tokens seen (it gives the
/// next token's position); each layer's <see cref="LayerKv.PhysicalLength"/> counts slots held.
/// </summary>
public sealed class SequenceKv : IDisposable
{
    private readonly PageAllocator _allocator;

    public SequenceKv(int layers, int pageSize, PageAllocator allocator)
    {
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0)
            throw new EngineException($"page size must be a power of two, got {pageSize}");
        _allocator = allocator;
        PageSize = pageSize;
        Layers = Enumerable.Range(0, layers).Select(_ => new LayerKv(pageSize)).ToArray();
    }

    public int PageSize { get; }
    public LayerKv[] Layers { get; }
    public PageAllocator Allocator => _allocator;
    public int LogicalLength { get; set; }
    public int PagesHeld => Layers.Sum(l => l.Pages.Count);

    public void Dispose()
    {
        foreach (var layer in Layers) layer.Release(_allocator);
        LogicalLength = 0;
    }
}
