using Engine.Core;
using Engine.Core.Config;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// The block manager: the device page pool (<see cref="KvPool"/>) shared by all layers and sequences,
/// its free list, page reservations and usage statistics. Each (sequence, layer) owns whole pages
/// through its page table (<see cref="LayerKv"/>).
/// Reservations: a sequence may be promised pages up front (<see cref="CreateSequence"/>); the free
/// list never drops below the pages still owed to reservations, so a sequence growing within its
/// reservation always finds a page. Growth beyond the reservation takes unreserved free pages only.
/// </summary>
public sealed class PagedKvCache : IDisposable
{
    /// <summary>Host memory left alone when sizing a pool from host memory (the OS, the runtime, the weights' page cache).</summary>
    public const long HostHeadroomBytes = 1L << 30;

    private readonly Stack<int> _free;
    private readonly KvSequence?[] _owner;
    private readonly HashSet<KvSequence> _sequences = [];
    private readonly List<Func<bool>> _reclaimers = [];
    private readonly object _lock = new();
    private int _peakUsed; // most pages in use at once since the last ResetPeakUsedPages
    private int _owed; // pages reserved by live sequences and not yet allocated by them

    public PagedKvCache(IBackend backend, int layers, int kvHeads, int headDim, int pageCount, int pageSize, DType dtype)
    {
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0)
            throw new EngineException($"page size must be a power of two, got {pageSize}");
        long bytesPerPage = KvPool.BytesPerPageFor(kvHeads, pageSize, headDim, dtype);
        if (pageCount <= 0) throw new EngineException($"the KV pool has no pages (budget too small for one page of {bytesPerPage} bytes)");
        Layers = layers;
        PageSize = pageSize;
        PageCount = pageCount;
        BytesPerPage = bytesPerPage;
        _owner = new KvSequence?[pageCount];
        // Lowest page ids first, so that small runs touch the start of the pool.
        _free = new Stack<int>(Enumerable.Range(0, pageCount).Reverse());
        Pool = new KvPool(backend, pageCount, kvHeads, pageSize, headDim, dtype);
    }

    public PagedKvCache(IBackend backend, ModelConfig config, int pageCount, int pageSize, DType dtype)
        : this(backend, config.NumLayers, config.NumKvHeads, config.HeadDim, pageCount, pageSize, dtype) { }

    public KvPool Pool { get; }
    public int Layers { get; }
    public int PageSize { get; }
    public int PageCount { get; }
    /// <summary>Bytes of one page, keys and values of every KV head.</summary>
    public long BytesPerPage { get; }
    public DType DType => Pool.DType;
    /// <summary>Device bytes of the pool (keys and values).</summary>
    public long ByteLength => Pool.Keys.ByteLength + Pool.Values.ByteLength;

    public int FreePages { get { lock (_lock) return _free.Count; } }
    public int UsedPages { get { lock (_lock) return PageCount - _free.Count; } }
    /// <summary>Most pages in use at once since the pool was made or <see cref="ResetPeakUsedPages"/> (benchmarks).</summary>
    public int PeakUsedPages { get { lock (_lock) return _peakUsed; } }
    public void ResetPeakUsedPages() { lock (_lock) _peakUsed = PageCount - _free.Count; }
    /// <summary>Free pages no reservation is owed: what a new reservation or an unreserved growth may take.</summary>
    public int UnreservedFreePages { get { lock (_lock) return _free.Count - _owed; } }
    /// <summary>Sequences alive in the pool.</summary>
    public int SequenceCount { get { lock (_lock) return _sequences.Count; } }

    /// <summary>
    /// Whether a reservation of <paramref name="pages"/> pages can be granted now. When the pool is short,
    /// its reclaimers (<see cref="AddReclaimer"/>) are first asked, one idle sequence at a time, to give
    /// their pages back until it is not.
    /// </summary>
    public bool CanReserve(int pages)
    {
        while (true)
        {
            Func<bool>[] reclaimers;
            lock (_lock)
            {
                if (pages <= _free.Count - _owed) return true;
                reclaimers = [.. _reclaimers];
            }
            // Called outside the pool's lock: a reclaimer disposes sequences, which takes it.
            if (!reclaimers.Any(reclaim => reclaim())) return false;
        }
    }

    /// <summary>
    /// Registers a holder of idle sequences (a chat client's kept conversations): <paramref name="reclaimOne"/>
    /// ends its least valuable idle sequence and returns true, or false when it has none. Disposing the
    /// result unregisters it.
    /// </summary>
    public IDisposable AddReclaimer(Func<bool> reclaimOne)
    {
        lock (_lock) _reclaimers.Add(reclaimOne);
        return new Registration(() => { lock (_lock) _reclaimers.Remove(reclaimOne); });
    }

    private sealed class Registration(Action remove) : IDisposable
    {
        private Action? _remove = remove;
        public void Dispose() => Interlocked.Exchange(ref _remove, null)?.Invoke();
    }

    /// <summary>
    /// A new, empty sequence holding a reservation of <paramref name="reservePages"/> pages (0: none);
    /// <paramref name="policy"/> gives it its KV-policy state. Throws when the reservation cannot be granted.
    /// </summary>
    public KvSequence CreateSequence(int reservePages = 0, IKvCachePolicy? policy = null)
    {
        lock (_lock)
        {
            if (reservePages < 0 || reservePages > _free.Count - _owed)
                throw new KvExhaustedException($"KV cache pool cannot reserve {reservePages} pages: {_free.Count - _owed} of {PageCount} are free and unreserved");
            var sequence = new KvSequence(this, reservePages, policy);
            _owed += reservePages;
            _sequences.Add(sequence);
            return sequence;
        }
    }

    /// <summary>Promises <paramref name="pages"/> more pages to a live sequence (a session's next turn); throws when they cannot be granted.</summary>
    public void ExtendReservation(KvSequence sequence, int pages)
    {
        lock (_lock)
        {
            if (pages < 0 || pages > _free.Count - _owed)
                throw new KvExhaustedException($"KV cache pool cannot reserve {pages} more pages: {_free.Count - _owed} of {PageCount} are free and unreserved");
            int owedBefore = Math.Max(0, sequence.ReservedPages - sequence.PagesHeld);
            sequence.ReservedPages += pages;
            _owed += Math.Max(0, sequence.ReservedPages - sequence.PagesHeld) - owedBefore;
        }
    }

    /// <summary>Drops what a sequence's reservation promised beyond the pages it holds (a session between turns keeps only its cache).</summary>
    public void TrimReservation(KvSequence sequence)
    {
        lock (_lock)
        {
            if (!_sequences.Contains(sequence)) return;
            _owed -= Math.Max(0, sequence.ReservedPages - sequence.PagesHeld);
            sequence.ReservedPages = Math.Min(sequence.ReservedPages, sequence.PagesHeld);
        }
    }

    /// <summary>Pages <paramref name="sequence"/> may still allocate: what its reservation owes it plus the unreserved free pages.</summary>
    public int AvailableTo(KvSequence sequence)
    {
        lock (_lock) return Math.Max(0, sequence.ReservedPages - sequence.PagesHeld) + _free.Count - _owed;
    }

    internal int Allocate(KvSequence sequence)
    {
        lock (_lock)
        {
            bool owed = sequence.PagesHeld < sequence.ReservedPages;
            if (!owed && _free.Count - _owed <= 0 || _free.Count == 0)
                throw new KvExhaustedException(
                    $"KV cache pool exhausted: all {PageCount} pages ({PoolSize}) are in use or reserved; raise --kv-memory, shorten the prompt or lower --max-tokens");
            int page = _free.Pop();
            _peakUsed = Math.Max(_peakUsed, PageCount - _free.Count);
            _owner[page] = sequence;
            if (owed) _owed--;
            return page;
        }
    }

    internal void Free(KvSequence sequence, int page)
    {
        lock (_lock)
        {
            if ((uint)page >= (uint)PageCount || !ReferenceEquals(_owner[page], sequence))
                throw new InvalidOperationException($"KV page {page} freed twice or by a sequence that does not own it");
            _owner[page] = null;
            _free.Push(page);
            // The sequence falls back under its reservation: the page is owed to it again.
            if (sequence.PagesHeld - 1 < sequence.ReservedPages) _owed++;
        }
    }

    internal void Forget(KvSequence sequence)
    {
        lock (_lock)
        {
            if (!_sequences.Remove(sequence)) return;
            _owed -= Math.Max(0, sequence.ReservedPages - sequence.PagesHeld);
        }
    }

    /// <summary>The pool's size for messages: KiB, MiB or GiB, whichever reads best.</summary>
    public string PoolSize
    {
        get
        {
            double bytes = (double)PageCount * BytesPerPage;
            return bytes >= 1 << 30 ? FormattableString.Invariant($"{bytes / (1 << 30):F1} GiB")
                : bytes >= 1 << 20 ? FormattableString.Invariant($"{bytes / (1 << 20):F1} MiB")
                : FormattableString.Invariant($"{bytes / 1024:F1} KiB");
        }
    }

    /// <summary>Pages a layer of <paramref name="slots"/> slots spans.</summary>
    public int PagesForSlots(int slots) => (slots + PageSize - 1) / PageSize;

    /// <summary>Whether a page is held by some sequence (tests).</summary>
    public bool IsInUse(int page) { lock (_lock) return _owner[page] is not null; }

    /// <summary>
    /// Pages that fit <paramref name="budgetBytes"/>. Without a budget: 90% of what the backend can still
    /// allocate (host memory less <see cref="HostHeadroomBytes"/> when it cannot tell), and never more
    /// than <paramref name="fullContexts"/> sequences of <paramref name="contextLimit"/> tokens need in every layer.
    /// </summary>
    public static int PagesFor(IBackend backend, ModelConfig config, int pageSize, DType dtype, long? budgetBytes, int contextLimit, int fullContexts = 1)
    {
        long bytesPerPage = KvPool.BytesPerPageFor(config.NumKvHeads, pageSize, config.HeadDim, dtype);
        long fullContext = (long)((contextLimit + pageSize - 1) / pageSize) * config.NumLayers * Math.Max(1, fullContexts);
        long pages;
        if (budgetBytes is long budget)
        {
            if (budget <= 0) throw new EngineException($"--kv-memory must be positive, got {budget}");
            pages = budget / bytesPerPage;
            if (pages == 0)
                throw new EngineException($"--kv-memory {budget} bytes is less than one KV page ({bytesPerPage} bytes at page size {pageSize})");
        }
        else
        {
            long available = backend.AvailableMemoryBytes ?? HostAvailableBytes();
            pages = Math.Min(fullContext, (long)(available * 0.9) / bytesPerPage);
            if (pages < config.NumLayers)
                throw new EngineException($"not enough memory left for the KV cache: {available / (1024 * 1024)} MiB available, one page per layer needs {bytesPerPage * config.NumLayers / (1024 * 1024)} MiB; pass a smaller --page-size or --kv-memory");
        }
        // The pool is one array per K and V: keep each addressable by an int-sized page index.
        return (int)Math.Min(pages, int.MaxValue / 2);
    }

    /// <summary>Host memory the process may still use: the GC's view of physical memory less what is in use and a headroom.</summary>
    public static long HostAvailableBytes()
    {
        var info = GC.GetGCMemoryInfo();
        long used = Environment.WorkingSet;
        return Math.Max(0, info.TotalAvailableMemoryBytes - used - HostHeadroomBytes);
    }

    public void Dispose()
    {
        KvSequence[] live;
        lock (_lock) live = [.. _sequences];
        foreach (var sequence in live) sequence.Dispose();
        Pool.Dispose();
    }
}

/// <summary>The pool has no page left for a sequence (its reservation used up, no unreserved page free).</summary>
public sealed class KvExhaustedException(string message) : EngineException(message);
