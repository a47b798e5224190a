namespace Engine.Kernels.Ilgpu;

public sealed partial class IlgpuBackend
{
    /// <summary>
    /// Device memory less what this backend holds (sizes the default KV pool). Null on ILGPU's CPU
    /// accelerator, whose "device" is host memory: the caller then measures host memory itself.
    /// </summary>
    public long? AvailableMemoryBytes => Kind == BackendKind.IlgpuCpu ? null : Math.Max(0, Accelerator.MemorySize - AllocatedBytes);
}
