namespace Engine.Core.Kv;

/// <summary>
/// One layer's share of a sequence's KV cache: its page table and how many slots it holds. Every KV
/// head of the layer holds the same number of slots (LagKV keeps the same count per head), so one
/// page table serves all heads; slot s lives in page Pages[s / pageSize] at offset s % pageSize.
/// </summary>
public sealed class LayerKv
{
    private readonly List<int> _pages = [];

    public LayerKv(int pageSize) { PageSize = pageSize; }

    public int PageSize { get; }
    public IReadOnlyList<int> Pages => _pages;
    /// <summary>Slots held (after compression, fewer than the tokens seen).</summary>
    public int PhysicalLength { get; private set; }
    /// <summary>Bumped whenever the page list changes, so device mirrors know to re-upload.</summary>
    public int Version { get; private set; }

    /// <summary>Grows the layer to <paramref name="length"/> slots, allocating pages as needed.</summary>
    public void Grow(int length, PageAllocator allocator)
    {
        if (length < PhysicalLength) throw new ArgumentOutOfRangeException(nameof(length), "use Shrink to drop slots");
        int needed = (length + PageSize - 1) / PageSize;
        while (_pages.Count < needed) { _pages.Add(allocator.Allocate()); Version++; }
        PhysicalLength = length;
    }

    /// <summary>Drops slots beyond <paramref name="length"/> and returns emptied pages to the pool.</summary>
    public void Shrink(int length, PageAllocator allocator)
    {
        if (length > PhysicalLength || length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        int needed = (length + PageSize - 1) / PageSize;
        while (_pages.Count > needed)
        {
            allocator.Free(_pages[^1]);
            _pages.RemoveAt(_pages.Count - 1);
            Version++;
        }
        PhysicalLength = length;
    }

    public void Release(PageAllocator allocator) => Shrink(0, allocator);
}
