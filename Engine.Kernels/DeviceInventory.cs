using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Backends.OpenCL;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Engine.Kernels;

/// <summary>
/// What this machine offers the engine: the CUDA and OpenCL devices ILGPU sees and the CPU's SIMD
/// support. Probing never throws: a missing or broken driver becomes an entry in <see cref="Problems"/>.
/// </summary>
public sealed record DeviceInventory(
    IReadOnlyList<DeviceInventory.GpuDevice> Cuda,
    IReadOnlyList<DeviceInventory.GpuDevice> OpenCL,
    DeviceInventory.CpuSupport Cpu,
    IReadOnlyList<string> Problems,
    DeviceInventory.DriverLibraries Drivers)
{
    /// <summary>Which driver libraries loaded (see <see cref="GpuDriverLibraries"/>): one line each for `engine doctor`.</summary>
    public sealed record DriverLibraries(string Cuda, string OpenCL, bool CudaLoaded, bool OpenCLLoaded);

    /// <summary>A GPU-like device. Usable: ILGPU can compile for and run on it.</summary>
    public sealed record GpuDevice(string Name, string? ComputeCapability, long MemoryBytes, int Multiprocessors,
        int WarpSize, int MaxThreadsPerGroup, string? Driver, bool Usable, string? Note);

    public sealed record CpuSupport(string Architecture, int LogicalCores, bool Vector128, bool Vector256, bool Vector512,
        int VectorFloatCount);

    public static DeviceInventory Probe()
    {
        GpuDriverLibraries.Register();
        var problems = new List<string>();
        var cudaDriver = GpuDriverLibraries.Cuda();
        var openCLDriver = GpuDriverLibraries.OpenCL();
        var drivers = new DriverLibraries(cudaDriver.Describe("CUDA"), openCLDriver.Describe("OpenCL"), cudaDriver.Success, openCLDriver.Success);
        var cuda = ProbeCuda(problems);
        var openCL = ProbeOpenCL(problems);
        var cpu = new CpuSupport(
            RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant(), Environment.ProcessorCount,
            Vector128.IsHardwareAccelerated, Vector256.IsHardwareAccelerated, Vector512.IsHardwareAccelerated,
            Vector<float>.Count);
        return new DeviceInventory(cuda, openCL, cpu, problems, drivers);
    }

    private static List<GpuDevice> ProbeCuda(List<string> problems)
    {
        var devices = new List<GpuDevice>();
        try
        {
            using var context = Context.Create(b => b.Cuda(_ => true));
            foreach (var d in context.GetCudaDevices())
            {
                bool usable = d.Architecture.HasValue && d.InstructionSet.HasValue;
                string? capability = d.Architecture is { } a ? $"{a.Major}.{a.Minor}" : null;
                devices.Add(new GpuDevice(d.Name, capability, d.MemorySize, d.NumMultiprocessors, d.WarpSize,
                    d.MaxNumThreadsPerGroup, $"CUDA driver {d.DriverVersion}", usable,
                    usable ? null : "ILGPU 1.5.3 does not know this architecture or driver"));
            }
        }
        catch (Exception e)
        {
            problems.Add($"CUDA: {OneLine(e.Message)}");
        }
        return devices;
    }

    private static List<GpuDevice> ProbeOpenCL(List<string> problems)
    {
        var devices = new List<GpuDevice>();
        try
        {
            using var context = Context.Create(b => b.OpenCL(_ => true));
            foreach (var d in context.GetCLDevices())
            {
                bool usable = d.CLStdVersion >= CLBackend.MinimumVersion && d.Capabilities.GenericAddressSpace;
                devices.Add(new GpuDevice($"{d.Name} ({d.PlatformName})", null, d.MemorySize, d.NumMultiprocessors, d.WarpSize,
                    d.MaxNumThreadsPerGroup, $"OpenCL {d.DeviceVersion}", usable,
                    usable ? null : "needs OpenCL C 2.0 with the generic address space"));
            }
        }
        catch (Exception e)
        {
            problems.Add($"OpenCL: {OneLine(e.Message)}");
        }
        return devices;
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
