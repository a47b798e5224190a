namespace Engine.Core.Kv;

/// <summary>
/// The free list of a fixed pool of KV pages. Pages are handed out whole; a page is owned by exactly
/// one (sequence, layer) at a time. Pure bookkeeping: the page memory itself lives on the device.
/// </summary>
public sealed class PageAllocator
{
    private readonly Stack<int> _free;
    private readonly bool[] _inUse;

    public PageAllocator(int pageCount, long bytesPerPage)
    {
        if (pageCount <= 0) throw new EngineException($"the KV pool has no pages (budget too small for one page of {bytesPerPage} bytes)");
        PageCount = pageCount;
        BytesPerPage = bytesPerPage;
        _inUse = new bool[pageCount];
        // Lowest page ids first, so that small runs touch the start of the pool.
        _free = new Stack<int>(Enumerable.Range(0, pageCount).Reverse());
    }

    public int PageCount { get; }
    public long BytesPerPage { get; }
    public int FreePages => _free.Count;
    public int UsedPages => PageCount - _free.Count;

    public int Allocate()
    {
        if (!_free.TryPop(out int page))
            throw new KvExhaustedException(
                $"KV cache pool exhausted: all {PageCount} pages ({PoolSize()}) are in use; raise --kv-memory, shorten the prompt or lower --max-tokens");
        _inUse[page] = true;
        return page;
    }

    /// <summary>The pool's size for messages, in the largest binary unit that keeps a whole number in front (20.0 KiB, 1.5 GiB).</summary>
    private string PoolSize()
    {
        double bytes = PageCount * (double)BytesPerPage;
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
        int unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1) { bytes /= 1024; unit++; }
        return unit == 0 ? $"{bytes:0} bytes" : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{bytes:0.0} {units[unit]}");
    }

    public void Free(int page)
    {
        if ((uint)page >= (uint)PageCount || !_inUse[page])
            throw new InvalidOperationException($"KV page {page} freed twice or never allocated");
        _inUse[page] = false;
        _free.Push(page);
    }

    public bool IsInUse(int page) => _inUse[page];
}
