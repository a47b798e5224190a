namespace Engine.Models.Kv;

/// <summary>
/// One layer's share of a sequence's KV cache: its page table and how many slots it holds. Every KV
/// head of the layer holds the same number of slots (LagKV keeps the same count per head), so one
/// page table serves all heads; slot s lives in page Pages[s / pageSize] at offset s % pageSize.
/// </summary>
public sealed class LayerKv
{
    private readonly KvSequence _sequence;
    private readonly List<int> _pages = [];

    internal LayerKv(KvSequence sequence) => _sequence = sequence;

    public IReadOnlyList<int> Pages => _pages;
    /// <summary>Slots held (after compression, fewer than the tokens seen).</summary>
    public int PhysicalLength { get; private set; }

    /// <summary>Pages growing to <paramref name="length"/> slots would add.</summary>
    public int PagesToGrow(int length) => Math.Max(0, _sequence.Cache.PagesForSlots(length) - _pages.Count);

    /// <summary>Grows the layer to <paramref name="length"/> slots, allocating pages from the pool as needed.</summary>
    public void Grow(int length)
    {
        if (length < PhysicalLength) throw new ArgumentOutOfRangeException(nameof(length), "use Shrink to drop slots");
        int needed = _sequence.Cache.PagesForSlots(length);
        while (_pages.Count < needed) _pages.Add(_sequence.AllocatePage());
        PhysicalLength = length;
    }

    /// <summary>Drops slots beyond <paramref name="length"/> and returns emptied pages to the pool.</summary>
    public void Shrink(int length)
    {
        if (length > PhysicalLength || length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        int needed = _sequence.Cache.PagesForSlots(length);
        while (_pages.Count > needed)
        {
            _sequence.FreePage(_pages[^1]);
            _pages.RemoveAt(_pages.Count - 1);
        }
        PhysicalLength = length;
    }
}
