using System.Runtime.InteropServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// A <see cref="DeviceArray"/> in host memory for <see cref="SimdBackend"/>: 64-byte aligned native memory
/// (may exceed 2 GiB, so everything is addressed through pointers and long offsets). Views share the
/// owner's memory and free nothing.
/// </summary>
internal sealed unsafe class HostArray : DeviceArray
{
    private const nuint Alignment = 64;
    private readonly SimdBackend _backend;
    private readonly bool _ownsMemory;
    private byte* _data;

    /// <summary>Allocates zeroed memory for <paramref name="length"/> elements.</summary>
    public HostArray(SimdBackend backend, DType dtype, long length) : base(dtype, length)
    {
        _backend = backend;
        _ownsMemory = true;
        nuint bytes = (nuint)Math.Max(ByteLength, 1);
        bool huge = HugePages.Worthwhile(bytes);
        try { _data = (byte*)NativeMemory.AlignedAlloc(huge ? HugePages.RoundUp(bytes) : bytes, huge ? HugePages.Size : Alignment); }
        catch (OutOfMemoryException) { throw new EngineException($"out of host memory allocating {ByteLength:N0} bytes"); }
        if (huge) HugePages.Advise(_data, HugePages.RoundUp(bytes));
        NativeMemory.Clear(_data, bytes);
    }

    private HostArray(SimdBackend backend, DType dtype, long length, byte* data) : base(dtype, length)
    {
        _backend = backend;
        _ownsMemory = false;
        _data = data;
    }

    /// <summary>The backend that allocated this memory.</summary>
    public SimdBackend Backend => _backend;

    /// <summary>First byte; throws once the owning array is disposed.</summary>
    public byte* Data => _data != null ? _data : throw new ObjectDisposedException(nameof(HostArray));

    public override DeviceArray View(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"view [{offset}, {offset + length}) outside array of {Length}");
        return new HostArray(_backend, DType, length, Data + DTypes.ByteCount(DType, offset));
    }

    public override void Dispose()
    {
        if (!_ownsMemory || _data == null) return;
        NativeMemory.AlignedFree(_data);
        _data = null;
        _backend.OnFreed(ByteLength);
    }
}
