using Engine.Core;

namespace Engine.Kernels;

/// <summary>
/// A one-dimensional array in a backend's memory (device memory for ILGPU, host memory for the SIMD
/// CPU backend). Lengths and offsets are in elements of <see cref="DType"/>. A view shares its
/// parent's memory and must not outlive it; disposing a view does nothing.
/// </summary>
public abstract class DeviceArray : IDisposable
{
    protected DeviceArray(DType dtype, long length) { DType = dtype; Length = length; }

    public DType DType { get; }
    public long Length { get; }
    public long ByteLength => DTypes.ByteCount(DType, Length);

    /// <summary>A window of <paramref name="length"/> elements starting at <paramref name="offset"/>.</summary>
    public abstract DeviceArray View(long offset, long length);

    public abstract void Dispose();
}
