using Engine.Core;
using Engine.Core.Kv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// One sequence in the paged store: the host bookkeeping (<see cref="SequenceKv"/>) plus a device copy
/// of each layer's page table, re-uploaded only when that layer's <see cref="LayerKv.Version"/> moved.
/// Disposing returns every page to the pool and frees the mirrors.
/// </summary>
public sealed class CacheSequence : IDisposable
{
    private readonly PagedKvCache _cache;
    private readonly IBackend _backend;
    private readonly DeviceArray[] _tables;
    private readonly int[] _mirroredVersion;
    private readonly int _tableCapacity;
    private bool _disposed;

    internal CacheSequence(PagedKvCache cache, IBackend backend, int contextLimit)
    {
        _cache = cache;
        _backend = backend;
        Kv = new SequenceKv(cache.Config.NumLayers, cache.PageSize, cache.Allocator);
        // A layer never holds more pages than the context needs, nor more than the pool has.
        _tableCapacity = Math.Max(1, Math.Min(cache.Allocator.PageCount, (contextLimit + cache.PageSize - 1) / cache.PageSize));
        _tables = new DeviceArray[Kv.Layers.Length];
        _mirroredVersion = new int[Kv.Layers.Length];
        for (int l = 0; l < _tables.Length; l++)
        {
            _tables[l] = backend.Allocate(DType.I32, _tableCapacity);
            _mirroredVersion[l] = -1;
        }
    }

    public SequenceKv Kv { get; }
    public int LogicalLength => Kv.LogicalLength;

    /// <summary>Makes room for <paramref name="extra"/> more slots in a layer (pages from the pool; its exhaustion is a <see cref="KvExhaustedException"/>).</summary>
    public void Grow(int layer, int extra)
    {
        var layerKv = Kv.Layers[layer];
        int needed = (layerKv.PhysicalLength + extra + _cache.PageSize - 1) / _cache.PageSize;
        if (needed > _tableCapacity)
            throw new KvExhaustedException($"KV cache pool exhausted: a layer needs {needed} pages but the pool has {_cache.Allocator.PageCount}; raise --kv-memory or shorten the request");
        layerKv.Grow(layerKv.PhysicalLength + extra, _cache.Allocator);
    }

    /// <summary>The layer's page table on the device, uploaded first if the host copy changed.</summary>
    public DeviceArray PageTable(int layer)
    {
        var layerKv = Kv.Layers[layer];
        if (_mirroredVersion[layer] != layerKv.Version)
        {
            var pages = layerKv.Pages;
            if (pages.Count > 0)
            {
                var ids = new int[pages.Count];
                for (int i = 0; i < ids.Length; i++) ids[i] = pages[i];
                _backend.Upload<int>(_tables[layer], ids);
            }
            _mirroredVersion[layer] = layerKv.Version;
        }
        return _tables[layer];
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Kv.Dispose();
        foreach (var table in _tables) table.Dispose();
        _cache.Forget(this);
    }
}
