using System.Runtime.InteropServices;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Kernel attributes ILGPU 1.5.3 does not expose, set through the CUDA driver that <see cref="GpuDriverLibraries"/>
/// loaded (the same library ILGPU uses).
/// </summary>
internal static class CudaFunctionAttributes
{
    /// <summary>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES (cuda.h).</summary>
    private const int MaxDynamicSharedSizeBytes = 8;

    /// <summary>
    /// Raises a kernel's dynamic shared memory limit (default 48 KB) to <paramref name="bytes"/> with
    /// cuFuncSetAttribute; false when the driver or the entry point is missing or the driver refuses.
    /// </summary>
    public static unsafe bool TrySetMaxDynamicSharedMemory(IntPtr function, int bytes)
    {
        var driver = GpuDriverLibraries.Cuda();
        if (!driver.Success || !NativeLibrary.TryGetExport(driver.Handle, "cuFuncSetAttribute", out IntPtr entry)) return false;
        var setAttribute = (delegate* unmanaged<IntPtr, int, int, int>)entry;
        return setAttribute(function, MaxDynamicSharedSizeBytes, bytes) == 0; // CUDA_SUCCESS
    }
}
