using Engine.Kernels;
using Engine.Kernels.Cpu;

namespace Engine.Tests.Support;

/// <summary>
/// Every backend present on this machine, for op-conformance and model tests: the ILGPU CPU
/// accelerator and the SIMD CPU backend always, CUDA and OpenCL where a device exists. Each backend
/// implementation registers its factory here.
/// </summary>
public static class TestBackends
{
    /// <summary>Names accepted by <see cref="Create"/>, for NUnit's TestCaseSource.</summary>
    public static IEnumerable<string> Available()
    {
        // backends add themselves here: "ilgpu-cpu", "cpu-simd", "cuda", "opencl"
        yield return "cpu-simd";
    }

    public static IBackend Create(string name) => name switch
    {
        "cpu-simd" => new SimdBackend(),
        _ => throw new ArgumentException($"unknown test backend {name}"),
    };
}
