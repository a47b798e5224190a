using Engine.Core;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// A DeviceArray in ILGPU device memory: a window (byte offset, element count) on one untyped root
/// buffer, so any view can be reinterpreted as the element type a kernel needs.
/// </summary>
internal sealed class IlgpuArray : DeviceArray
{
    private readonly MemoryBuffer1D<byte, Stride1D.Dense> _root;
    private readonly IlgpuBackend? _owner; // null for views: only the root frees memory
    private bool _disposed;

    private IlgpuArray(MemoryBuffer1D<byte, Stride1D.Dense> root, IlgpuBackend? owner, DType dtype, long byteOffset, long length)
        : base(dtype, length)
    {
        _root = root; _owner = owner; ByteOffset = byteOffset;
    }

    internal static IlgpuArray CreateRoot(MemoryBuffer1D<byte, Stride1D.Dense> root, IlgpuBackend owner, DType dtype, long length) =>
        new(root, owner, dtype, 0, length);

    /// <summary>Offset of element 0 in the root buffer, in bytes.</summary>
    internal long ByteOffset { get; }

    internal Accelerator Accelerator => _root.Accelerator;

    /// <summary>The device address of element 0 (for inline PTX that takes raw addresses, e.g. cp.async).</summary>
    internal long DeviceAddress => _root.NativePtr.ToInt64() + ByteOffset;

    /// <summary>The window reinterpreted as elements of T (T's size need not match the dtype).</summary>
    internal ArrayView<T> ViewAs<T>() where T : unmanaged
    {
        if (_disposed || _root.IsDisposed) throw new ObjectDisposedException(nameof(IlgpuArray));
        return _root.View.AsContiguous().SubView(ByteOffset, ByteLength).Cast<T>();
    }

    public override DeviceArray View(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"view [{offset}, {offset + length}) outside an array of {Length} elements");
        return new IlgpuArray(_root, null, DType, ByteOffset + DTypes.ByteCount(DType, offset), length);
    }

    public override void Dispose()
    {
        if (_owner is null || _disposed) return;
        _disposed = true;
        _root.Dispose();
        _owner.OnFreed(ByteLength);
    }
}
