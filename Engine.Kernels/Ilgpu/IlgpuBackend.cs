using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The op set as ILGPU kernels on one accelerator (CUDA, OpenCL or ILGPU's CPU simulator). This file
/// holds the device, memory and kernel-loading plumbing; each op family lives in its own
/// IlgpuBackend.&lt;Op&gt;.cs file (what it computes, its kernels, its launcher).
/// </summary>
public sealed partial class IlgpuBackend : IBackend
{
    /// <summary>The simulated GPU for IlgpuCpu: warp 32 like NVIDIA, groups up to 256 threads (one OS thread each).</summary>
    private static readonly CPUDevice SimulatorDevice = new(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);

    private readonly Context _context;
    private readonly ConcurrentDictionary<MethodInfo, Delegate> _kernels = new();
    private long _allocated, _peak;

    private IlgpuBackend(Context context, Accelerator accelerator, BackendKind kind)
    {
        _context = context;
        Accelerator = accelerator;
        Kind = kind;
        string prefix = kind switch { BackendKind.Cuda => "cuda", BackendKind.OpenCL => "opencl", _ => "ilgpu-cpu" };
        Name = $"{prefix}: {accelerator.Name}";
        // Simulated threads are OS threads: keep groups small there. GPUs get full-size groups.
        GroupSize = kind == BackendKind.IlgpuCpu ? 64 : Math.Min(256, accelerator.MaxNumThreadsPerGroup);
    }

    /// <summary>The ILGPU device of the given kind (Cuda, OpenCL or IlgpuCpu), or null when none is present.</summary>
    /// <param name="kernels">Fast: fast kernels once they pass their self-check on this device; Portable: never.</param>
    public static IlgpuBackend? TryCreate(BackendKind kind, KernelSet kernels = KernelSet.Fast)
    {
        GpuDriverLibraries.Register();
        Context? context = null;
        try
        {
            context = kind switch
            {
                BackendKind.Cuda => Context.Create(b => b.Cuda().EnableAlgorithms().Optimize(CudaOptimization(kernels))),
                BackendKind.OpenCL => Context.Create(b => b.OpenCL().EnableAlgorithms()),
                BackendKind.IlgpuCpu => Context.Create(b => b.CPU(SimulatorDevice).EnableAlgorithms()),
                _ => null,
            };
            if (context is null) return null;
            AcceleratorType type = kind switch { BackendKind.Cuda => AcceleratorType.Cuda, BackendKind.OpenCL => AcceleratorType.OpenCL, _ => AcceleratorType.CPU };
            Device? device = context.Devices.Where(d => d.AcceleratorType == type).OrderByDescending(d => d.MemorySize).FirstOrDefault();
            if (device is null) { context.Dispose(); return null; }
            return new IlgpuBackend(context, device.CreateAccelerator(context), kind) { RequestedKernels = kernels };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A missing or broken driver means "no such device", never a crash.
            context?.Dispose();
            return null;
        }
    }

    /// <summary>
    /// ILGPU's optimisation level for CUDA: O2 with the fast kernels (it also infers that kernel views are global
    /// memory, so loads compile to LDG, e.g. LDG.E.128 in the matrix-vector kernels, instead of generic LD), the
    /// default level with --kernels portable, the conservative set. Every kernel passes ptxas at both levels.
    /// </summary>
    public static OptimizationLevel CudaOptimization(KernelSet kernels) => kernels == KernelSet.Fast ? OptimizationLevel.O2 : OptimizationLevel.Release;

    public string Name { get; }
    public BackendKind Kind { get; }
    public TransferCounters Transfers { get; } = new();
    public LaunchCounters Launches { get; } = new();
    public long AllocatedBytes => Interlocked.Read(ref _allocated);
    public long PeakAllocatedBytes => Interlocked.Read(ref _peak);

    public void BindToCurrentThread() => Accelerator.Bind();

    /// <summary>The accelerator the kernels run on (for kernels added in other files, e.g. LagKV).</summary>
    internal Accelerator Accelerator { get; }

    /// <summary>Threads per group for one-group-per-row kernels (a power of two, a multiple of the warp size).</summary>
    internal int GroupSize { get; }

    public DeviceArray Allocate(DType dtype, long length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
        long bytes = Math.Max(1, DTypes.ByteCount(dtype, length));
        MemoryBuffer1D<byte, Stride1D.Dense> root;
        try { root = Accelerator.Allocate1D<byte>(bytes); }
        catch (Exception e) when (e is OutOfMemoryException or AcceleratorException)
        {
            throw new EngineException($"{Name}: out of device memory allocating {bytes / (1024.0 * 1024.0):F1} MiB ({AllocatedBytes / (1024.0 * 1024.0):F1} MiB already allocated)", e);
        }
        long now = Interlocked.Add(ref _allocated, DTypes.ByteCount(dtype, length));
        long peak;
        while (now > (peak = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak) { }
        return IlgpuArray.CreateRoot(root, this, dtype, length);
    }

    internal void OnFreed(long bytes) => Interlocked.Add(ref _allocated, -bytes);

    public unsafe void Upload<T>(DeviceArray dst, ReadOnlySpan<T> src, long dstOffset = 0) where T : unmanaged
    {
        CheckElementSize<T>(dst);
        CheckRange(dst, dstOffset, src.Length);
        if (src.IsEmpty) return;
        long bytes = (long)src.Length * Marshal.SizeOf<T>();
        if (bytes <= MaxStagedUpload)
        {
            // A step's inputs: copied into pinned staging and sent on the stream without waiting (see Staged).
            var staged = Staged(bytes);
            MemoryMarshal.AsBytes(src).CopyTo(staged.Span);
            ViewOf<byte>(dst).SubView(dstOffset * Marshal.SizeOf<T>(), bytes).CopyFrom(Accelerator.DefaultStream, staged.View);
        }
        else
        {
            // ILGPU turns the ref into a raw pointer: pinned, or a GC on another thread moves the array mid-copy.
            fixed (T* pinned = src)
                ViewOf<T>(dst).SubView(dstOffset, src.Length).CopyFromCPU(ref *pinned, src.Length);
            Launches.AddHostSync(); // ILGPU's CopyFromCPU synchronizes its stream after the copy
        }
        Transfers.AddToDevice(bytes);
    }

    public unsafe void Download<T>(DeviceArray src, Span<T> dst, long srcOffset = 0) where T : unmanaged
    {
        CheckElementSize<T>(src);
        CheckRange(src, srcOffset, dst.Length);
        Synchronize();
        if (dst.IsEmpty) return;
        // Pinned for the same reason as Upload: an unpinned destination would be written at its old place.
        fixed (T* pinned = dst)
            ViewOf<T>(src).SubView(srcOffset, dst.Length).CopyToCPU(ref *pinned, dst.Length);
        Transfers.AddToHost((long)dst.Length * Marshal.SizeOf<T>());
    }

    public void Synchronize()
    {
        Launches.AddHostSync();
        Accelerator.Synchronize();
        _stagingUsed = 0; // every staged copy has landed
    }

    /// <summary>The device view of an array of this backend, as elements of T (ushort for F16/BF16 bits).</summary>
    internal ArrayView<T> ViewOf<T>(DeviceArray array) where T : unmanaged
    {
        if (array is not IlgpuArray a || a.Accelerator != Accelerator)
            throw new ArgumentException("the array belongs to another backend", nameof(array));
        return a.ViewAs<T>();
    }

    /// <summary>Every kernel entry point with the generic instantiations the backend launches.</summary>
    public static IReadOnlyList<MethodInfo> KernelEntryPoints()
    {
        var result = new List<MethodInfo>();
        foreach (var method in typeof(IlgpuBackend).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
            foreach (var instance in method.GetCustomAttributes<KernelInstanceAttribute>())
                result.Add(method.IsGenericMethodDefinition ? method.MakeGenericMethod(instance.TypeArguments) : method);
        return result;
    }

    public void Dispose()
    {
        _staging?.Dispose();
        // Disposing the accelerator frees every buffer still allocated on it.
        Accelerator.Dispose();
        _context.Dispose();
    }

    /// <summary>T's size must be the dtype's element size, or 1 for a block-quantized dtype (copied as bytes).</summary>
    private static void CheckElementSize<T>(DeviceArray array) where T : unmanaged
    {
        if (Marshal.SizeOf<T>() != (DTypes.IsBlockQuantized(array.DType) ? 1 : DTypes.SizeOf(array.DType)))
            throw new ArgumentException($"{typeof(T).Name} does not match the array's dtype {array.DType}");
    }

    /// <summary>Upload and Download address elements, or bytes for block-quantized dtypes.</summary>
    private static void CheckRange(DeviceArray array, long offset, long count)
    {
        long capacity = DTypes.IsBlockQuantized(array.DType) ? array.ByteLength : array.Length;
        if (offset < 0 || offset + count > capacity)
            throw new ArgumentOutOfRangeException(nameof(offset), $"elements [{offset}, {offset + count}) outside an array of {capacity}");
    }

    /// <summary>Throws when an op's arguments are inconsistent (caller bugs, never user input).</summary>
    private static void Require(bool condition, string message)
    {
        if (!condition) throw new ArgumentException(message);
    }

    /// <summary>Groups for a grid-stride loop over count elements.</summary>
    private KernelConfig GridStride(long count)
    {
        long groups = Math.Clamp((count + GroupSize - 1) / GroupSize, 1, 65535);
        return new KernelConfig((int)groups, GroupSize);
    }
}
