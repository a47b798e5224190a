using System.Runtime.Intrinsics;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The SIMD CPU backend: host memory, ops written with System.Numerics.Tensors and Vector256/Vector512
/// (bf16/f16 widened in registers, f32 accumulation), parallel over output rows on a persistent worker
/// pool. Ops run synchronously on the calling thread (plus workers), so <see cref="Synchronize"/> has
/// nothing to wait for. Op families live in SimdBackend.*.cs beside this file.
/// </summary>
public sealed unsafe partial class SimdBackend : IBackend
{
    private readonly WorkerPool _pool;
    private long _allocatedBytes;
    private long _peakAllocatedBytes;

    /// <param name="threads">Worker threads (0: all cores).</param>
    /// <param name="kernels">Fast: quantized weights times 8-bit activations; Portable: times float activations (see <see cref="KernelSet"/>).</param>
    public SimdBackend(int threads = 0, KernelSet kernels = KernelSet.Fast)
    {
        Kernels = kernels;
        if (threads < 0) throw new EngineException($"--threads must be 0 (all cores) or positive, got {threads}");
        Threads = threads == 0 ? Environment.ProcessorCount : threads;
        _pool = new WorkerPool(Threads);
    }

    public KernelSet Kernels { get; }

    /// <summary>Threads that run each op (the caller included).</summary>
    public int Threads { get; }

    /// <summary>"AVX-512" or "AVX2": the vector width the kernels run at.</summary>
    public static string InstructionSet => KernelDispatch.Use512 ? "AVX-512"
        : Vector256.IsHardwareAccelerated ? "AVX2" : "portable";

    public string Name => $"cpu-simd ({Threads} thread{(Threads == 1 ? "" : "s")}, {InstructionSet}{(Kernels == KernelSet.Portable ? ", portable kernels" : "")})";
    public BackendKind Kind => BackendKind.SimdCpu;
    public TransferCounters Transfers { get; } = new();
    public long AllocatedBytes => Interlocked.Read(ref _allocatedBytes);
    public long PeakAllocatedBytes => Interlocked.Read(ref _peakAllocatedBytes);

    public DeviceArray Allocate(DType dtype, long length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        var array = new HostArray(this, dtype, length);
        long now = Interlocked.Add(ref _allocatedBytes, array.ByteLength);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peakAllocatedBytes)) &&
               Interlocked.CompareExchange(ref _peakAllocatedBytes, now, peak) != peak) { }
        return array;
    }

    internal void OnFreed(long bytes) => Interlocked.Add(ref _allocatedBytes, -bytes);

    public void Upload<T>(DeviceArray dst, ReadOnlySpan<T> src, long dstOffset = 0) where T : unmanaged
    {
        T* target = PointerOf<T>(dst);
        if (dstOffset < 0 || dstOffset + src.Length > Capacity(dst))
            throw new ArgumentOutOfRangeException(nameof(dstOffset), $"upload of {src.Length} at {dstOffset} overruns array of {dst.Length}");
        src.CopyTo(new Span<T>(target + dstOffset, src.Length));
        Transfers.AddToDevice((long)src.Length * sizeof(T));
    }

    public void Download<T>(DeviceArray src, Span<T> dst, long srcOffset = 0) where T : unmanaged
    {
        T* source = PointerOf<T>(src);
        if (srcOffset < 0 || srcOffset + dst.Length > Capacity(src))
            throw new ArgumentOutOfRangeException(nameof(srcOffset), $"download of {dst.Length} at {srcOffset} overruns array of {src.Length}");
        new ReadOnlySpan<T>(source + srcOffset, dst.Length).CopyTo(dst);
        Transfers.AddToHost((long)dst.Length * sizeof(T));
    }

    /// <summary>Ops complete before they return; nothing is pending.</summary>
    public void Synchronize() { }

    /// <summary>
    /// The memory of an array this backend allocated (or a view of one), typed: T's size must match the
    /// dtype's (ushort for F16/BF16). For ops written in other files (e.g. LagKV) against host memory.
    /// </summary>
    internal static T* PointerOf<T>(DeviceArray array) where T : unmanaged
    {
        if (DTypes.IsBlockQuantized(array.DType) ? sizeof(T) != 1 : sizeof(T) != DTypes.SizeOf(array.DType))
            throw new ArgumentException($"element type {typeof(T).Name} does not match array dtype {array.DType}");
        return (T*)PointerOf(array);
    }

    /// <summary>Units Upload/Download address in an array: elements, or bytes for block-quantized dtypes.</summary>
    private static long Capacity(DeviceArray array) => DTypes.IsBlockQuantized(array.DType) ? array.ByteLength : array.Length;

    /// <summary>The untyped memory of an array this backend allocated (or a view of one).</summary>
    internal static void* PointerOf(DeviceArray array) => array is HostArray host
        ? host.Data
        : throw new ArgumentException("array was not allocated by the SIMD CPU backend");

    /// <summary>Checks an op argument's dtype and that it holds at least <paramref name="needed"/> elements.</summary>
    private static void Require(DeviceArray array, DType dtype, long needed, string name)
    {
        if (array.DType != dtype) throw new ArgumentException($"{name} must be {dtype}, got {array.DType}");
        Require(array, needed, name);
    }

    private static void Require(DeviceArray array, long needed, string name)
    {
        if (array is not HostArray) throw new ArgumentException($"{name} was not allocated by the SIMD CPU backend");
        if (array.Length < needed) throw new ArgumentException($"{name} holds {array.Length} elements, the op needs {needed}");
    }

    private static void RequireWeightType(DeviceArray array, string name, bool quantizedAllowed = false)
    {
        if (array.DType is not (DType.F32 or DType.F16 or DType.BF16) && !(quantizedAllowed && DTypes.IsBlockQuantized(array.DType)))
            throw new ArgumentException($"{name} must be F32, F16 or BF16{(quantizedAllowed ? " or block-quantized" : "")}, got {array.DType}");
    }

    public void Dispose() => _pool.Dispose();
}
