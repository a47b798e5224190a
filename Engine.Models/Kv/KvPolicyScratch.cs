using Engine.Core;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// Device scratch of the KV policies (LagKV scores, press scores, kept offsets, the compaction buffer,
/// attention column sums), owned by whoever runs the forward pass and lent to every policy call, so
/// that policies hold no device memory of their own. Grown on demand and reused across compressions;
/// each accessor returns an exact-length view (ops size their work from their arguments, not the array).
/// </summary>
public sealed class KvPolicyScratch(IBackend backend) : IDisposable
{
    private readonly DeviceArray?[] _arrays = new DeviceArray?[5];

    public IBackend Backend { get; } = backend;
    public DeviceArray Scores(long length) => Get(0, DType.F32, length);
    public DeviceArray PressScores(long length) => Get(1, DType.F32, length);
    public DeviceArray Kept(long length) => Get(2, DType.I32, length);
    public DeviceArray Compaction(DType dtype, long length) => Get(3, dtype, length);
    public DeviceArray ColumnSums(long length) => Get(4, DType.F32, length);

    private DeviceArray Get(int index, DType dtype, long length)
    {
        DeviceArray? current = _arrays[index];
        if (current is null || current.DType != dtype || current.Length < length)
        {
            // Grow geometrically: one-shot prefills of rising length would otherwise reallocate each time.
            long capacity = Math.Max(Math.Max(length, 64), current is null || current.DType != dtype ? 0 : current.Length * 2);
            current?.Dispose();
            current = _arrays[index] = Backend.Allocate(dtype, capacity);
        }
        return current.View(0, length);
    }

    public void Dispose()
    {
        for (int i = 0; i < _arrays.Length; i++) { _arrays[i]?.Dispose(); _arrays[i] = null; }
    }
}
