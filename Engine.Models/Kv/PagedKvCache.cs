using Engine.Core;
using Engine.Core.Config;
using Engine.Core.Kv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// The paged KV store of one model: the device page pool (<see cref="KvPool"/>), its free list
/// (<see cref="PageAllocator"/>) and the sequences living in it. Pages are shared by all layers and
/// sequences; each (sequence, layer) owns whole pages through its page table.
/// </summary>
public sealed class PagedKvCache : IDisposable
{
    /// <summary>Host memory left alone when sizing a pool from host memory (the OS, the runtime, the weights' page cache).</summary>
    public const long HostHeadroomBytes = 1L << 30;

    private readonly IBackend _backend;
    private readonly List<CacheSequence> _sequences = [];

    public PagedKvCache(IBackend backend, ModelConfig config, int pageCount, int pageSize, DType dtype)
    {
        if (pageSize <= 0 || (pageSize & (pageSize - 1)) != 0)
            throw new EngineException($"page size must be a power of two, got {pageSize}");
        _backend = backend;
        Config = config;
        PageSize = pageSize;
        Allocator = new PageAllocator(pageCount, KvPool.BytesPerPageFor(config.NumKvHeads, pageSize, config.HeadDim, dtype));
        Pool = new KvPool(backend, pageCount, config.NumKvHeads, pageSize, config.HeadDim, dtype);
    }

    public ModelConfig Config { get; }
    public KvPool Pool { get; }
    public PageAllocator Allocator { get; }
    public int PageSize { get; }
    public DType DType => Pool.DType;
    /// <summary>Device bytes of the pool (keys and values).</summary>
    public long ByteLength => Pool.Keys.ByteLength + Pool.Values.ByteLength;

    /// <summary>
    /// Pages that fit <paramref name="budgetBytes"/>. Without a budget: 90% of what the backend can still
    /// allocate (host memory less <see cref="HostHeadroomBytes"/> when it cannot tell), and never more
    /// than one sequence of <paramref name="contextLimit"/> tokens needs in every layer.
    /// </summary>
    public static int PagesFor(IBackend backend, ModelConfig config, int pageSize, DType dtype, long? budgetBytes, int contextLimit)
    {
        long bytesPerPage = KvPool.BytesPerPageFor(config.NumKvHeads, pageSize, config.HeadDim, dtype);
        long fullContext = (long)((contextLimit + pageSize - 1) / pageSize) * config.NumLayers;
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

    /// <summary>A new, empty sequence whose page tables are mirrored on the device.</summary>
    public CacheSequence CreateSequence(int contextLimit)
    {
        var sequence = new CacheSequence(this, _backend, contextLimit);
        _sequences.Add(sequence);
        return sequence;
    }

    internal void Forget(CacheSequence sequence) => _sequences.Remove(sequence);

    public void Dispose()
    {
        foreach (var sequence in _sequences.ToArray()) sequence.Dispose();
        Pool.Dispose();
    }
}
