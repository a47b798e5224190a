using Engine.Core;

namespace Engine.Kernels.Ilgpu;

/// <summary>Placeholder until the backend is written; every member throws.</summary>
public sealed partial class IlgpuBackend : IBackend
{
    /// <summary>The ILGPU device of the given kind (Cuda, OpenCL or IlgpuCpu), or null when none is present.</summary>
    public static IlgpuBackend? TryCreate(BackendKind kind) => throw new NotImplementedException("ILGPU backend not built yet");

    public string Name => throw new NotImplementedException();
    public BackendKind Kind => throw new NotImplementedException();
    public TransferCounters Transfers => throw new NotImplementedException();
    public long AllocatedBytes => throw new NotImplementedException();
    public long PeakAllocatedBytes => throw new NotImplementedException();
    public DeviceArray Allocate(DType dtype, long length) => throw new NotImplementedException();
    public void Upload<T>(DeviceArray dst, ReadOnlySpan<T> src, long dstOffset = 0) where T : unmanaged => throw new NotImplementedException();
    public void Download<T>(DeviceArray src, Span<T> dst, long srcOffset = 0) where T : unmanaged => throw new NotImplementedException();
    public void Synchronize() => throw new NotImplementedException();
    public void Embedding(DeviceArray table, DeviceArray tokens, DeviceArray output, int count, int hidden) => throw new NotImplementedException();
    public void RmsNorm(DeviceArray x, DeviceArray weight, DeviceArray output, int rows, int dim, float eps) => throw new NotImplementedException();
    public void Linear(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim) => throw new NotImplementedException();
    public void Rope(DeviceArray x, DeviceArray positions, DeviceArray invFreq, int rows, int heads, int headDim) => throw new NotImplementedException();
    public void SiluMul(DeviceArray gate, DeviceArray up, DeviceArray output, long count) => throw new NotImplementedException();
    public void Add(DeviceArray x, DeviceArray y, long count) => throw new NotImplementedException();
    public void KvWrite(KvPool pool, DeviceArray pageTable, DeviceArray keys, DeviceArray values, int startSlot, int rows) => throw new NotImplementedException();
    public void Attention(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, DeviceArray output, int queries, AttentionShape shape) => throw new NotImplementedException();
    public int Argmax(DeviceArray x, int count) => throw new NotImplementedException();
    public void Dispose() { }
}
