using Engine.Core;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// LagKV's device scratch (scores, press scores, kept offsets, the compaction buffer), grown on
/// demand and reused across compressions so that decode does not allocate every L tokens. Each
/// accessor returns an exact-length view: ops size their work from the compression, not the array.
/// </summary>
internal sealed class LagKvWorkspace : IDisposable
{
    private IBackend? _backend;
    private readonly DeviceArray?[] _arrays = new DeviceArray?[4];

    public DeviceArray Scores(IBackend backend, long length) => Get(backend, 0, DType.F32, length);
    public DeviceArray PressScores(IBackend backend, long length) => Get(backend, 1, DType.F32, length);
    public DeviceArray Kept(IBackend backend, long length) => Get(backend, 2, DType.I32, length);
    public DeviceArray Scratch(IBackend backend, DType dtype, long length) => Get(backend, 3, dtype, length);

    private DeviceArray Get(IBackend backend, int index, DType dtype, long length)
    {
        if (!ReferenceEquals(backend, _backend)) { Dispose(); _backend = backend; }
        DeviceArray? current = _arrays[index];
        if (current is null || current.DType != dtype || current.Length < length)
        {
            // Grow geometrically: one-shot prefills of rising length would otherwise reallocate each time.
            long capacity = Math.Max(Math.Max(length, 1), current is null || current.DType != dtype ? 0 : current.Length * 2);
            current?.Dispose();
            current = _arrays[index] = backend.Allocate(dtype, capacity);
        }
        return current.View(0, length);
    }

    public void Dispose()
    {
        for (int i = 0; i < _arrays.Length; i++) { _arrays[i]?.Dispose(); _arrays[i] = null; }
        _backend = null;
    }
}
