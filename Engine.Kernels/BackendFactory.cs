using Engine.Core;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;

namespace Engine.Kernels;

/// <summary>Creates the backend a `--device` choice names.</summary>
public static class BackendFactory
{
    public const string Choices = "auto|cuda|opencl|cpu|ilgpu-cpu";

    /// <summary>
    /// auto: CUDA, then OpenCL, then the SIMD CPU backend. cpu: the SIMD CPU backend. ilgpu-cpu: ILGPU's
    /// CPU accelerator (a simulator, for debugging kernels). <paramref name="threads"/> applies to cpu (0: all cores),
    /// <paramref name="kernels"/> to every backend (see <see cref="KernelSet"/>).
    /// </summary>
    public static IBackend Create(string device, int threads = 0, KernelSet kernels = KernelSet.Fast)
    {
        switch (device.Trim().ToLowerInvariant())
        {
            case "auto":
                return (IBackend?)IlgpuBackend.TryCreate(BackendKind.Cuda, kernels)
                       ?? (IBackend?)IlgpuBackend.TryCreate(BackendKind.OpenCL, kernels)
                       ?? new SimdBackend(threads, kernels);
            case "cuda":
                return IlgpuBackend.TryCreate(BackendKind.Cuda, kernels)
                       ?? throw new EngineException("--device cuda: no CUDA device found (see `engine doctor`)");
            case "opencl":
                return IlgpuBackend.TryCreate(BackendKind.OpenCL, kernels)
                       ?? throw new EngineException("--device opencl: no OpenCL device found (see `engine doctor`)");
            case "cpu":
                return new SimdBackend(threads, kernels);
            case "ilgpu-cpu":
                return IlgpuBackend.TryCreate(BackendKind.IlgpuCpu, kernels)
                       ?? throw new EngineException("--device ilgpu-cpu: ILGPU's CPU accelerator is unavailable");
            default:
                throw new EngineException($"unknown device '{device}'; expected one of {Choices}");
        }
    }
}
