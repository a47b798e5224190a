using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;

namespace Engine.Tests.Support;

/// <summary>
/// Every backend present on this machine, for op-conformance and model tests: the ILGPU CPU
/// accelerator and the SIMD CPU backend always, CUDA and OpenCL where a device exists. Each backend
/// implementation registers its factory here.
/// </summary>
public static class TestBackends
{
    private static readonly Lazy<bool> HasCuda = new(() => Probe(BackendKind.Cuda));
    private static readonly Lazy<bool> HasOpenCL = new(() => Probe(BackendKind.OpenCL));

    /// <summary>Names accepted by <see cref="Create"/>, for NUnit's TestCaseSource.</summary>
    public static IEnumerable<string> Available()
    {
        yield return "ilgpu-cpu";
        yield return "cpu-simd";
        if (HasCuda.Value) yield return "cuda";
        if (HasOpenCL.Value) yield return "opencl";
    }

    public static IBackend Create(string name) => name switch
    {
        "cpu-simd" => new SimdBackend(),
        "ilgpu-cpu" => IlgpuBackend.TryCreate(BackendKind.IlgpuCpu) ?? throw new InvalidOperationException("ILGPU's CPU accelerator is unavailable"),
        "cuda" => IlgpuBackend.TryCreate(BackendKind.Cuda) ?? throw new InvalidOperationException("no CUDA device"),
        "opencl" => IlgpuBackend.TryCreate(BackendKind.OpenCL) ?? throw new InvalidOperationException("no OpenCL device"),
        "reference" => new ReferenceBackend(), // not in Available: the model tests and ReferenceBackendOpTests ask for it
        _ => throw new ArgumentException($"unknown test backend {name}"),
    };

    private static bool Probe(BackendKind kind)
    {
        using var backend = IlgpuBackend.TryCreate(kind);
        return backend is not null;
    }
}
