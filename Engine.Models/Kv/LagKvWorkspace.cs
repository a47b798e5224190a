using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// LagKV's device scratch (scores, kept offsets, the compaction buffer), grown on demand and reused
/// across compressions so that decode does not allocate every L tokens.
/// </summary>
internal sealed class LagKvWorkspace : IDisposable
{
    private IBackend? _backend;
    private DeviceArray? _scores, _kept, _scratch;

    public (DeviceArray Scores, DeviceArray Kept, DeviceArray Scratch) For(IBackend backend, KvPool pool, LagKvCompression c)
    {
        if (!ReferenceEquals(backend, _backend)) { Dispose(); _backend = backend; }
        long jobs = (long)pool.KvHeads * c.Partitions;
        _scores = Ensure(backend, _scores, DType.F32, jobs * c.LagSize);
        _kept = Ensure(backend, _kept, DType.I32, jobs * c.Keep);
        long scratch = ILagKvOps.LagKvCompactScratchElements(pool, c);
        _scratch = Ensure(backend, _scratch, pool.DType, scratch);
        // Exact-length views: ops size their work from the compression, not from the arrays.
        return (_scores.View(0, jobs * c.LagSize), _kept.View(0, jobs * c.Keep), _scratch.View(0, scratch));
    }

    private static DeviceArray Ensure(IBackend backend, DeviceArray? current, DType dtype, long length)
    {
        if (current is not null && current.DType == dtype && current.Length >= length) return current;
        current?.Dispose();
        // Grow geometrically: one-shot prefills of rising length would otherwise reallocate each time.
        long capacity = Math.Max(length, current is null ? 0 : current.Length * 2);
        return backend.Allocate(dtype, Math.Max(capacity, 1));
    }

    public void Dispose()
    {
        _scores?.Dispose(); _kept?.Dispose(); _scratch?.Dispose();
        _scores = _kept = _scratch = null;
        _backend = null;
    }
}
