using System.CommandLine;
using System.Text.Json;
using Engine.Core;
using Engine.Kernels;
using Engine.Cli.Formatting;
using Engine.Kernels.Ilgpu;

namespace Engine.Cli.Commands;

/// <summary>`engine doctor`: the CUDA/OpenCL devices ILGPU sees and the CPU's SIMD support; never fails on a missing driver.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the inventory as JSON" };
        var checkKernels = new Option<string?>("--check-kernels")
        {
            Description = "Self-check the fast kernels against their portable twins on this device: cuda, opencl or ilgpu-cpu (default: the GPU --device auto picks, if any)",
        };
        var command = new Command("doctor", "Show the compute devices the engine can use (CUDA, OpenCL, CPU SIMD)");
        command.Options.Add(json);
        command.Options.Add(checkKernels);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            var output = pr.InvocationConfiguration.Output;
            var inventory = DeviceInventory.Probe();
            var selfCheck = SelfCheck(inventory, pr.GetValue(checkKernels));
            if (pr.GetValue(json))
                output.WriteLine(JsonSerializer.Serialize(new { inventory.Cuda, Opencl = inventory.OpenCL, inventory.Cpu, inventory.Problems, inventory.Drivers, AutoDevice = AutoDevice(inventory), KernelSelfCheck = selfCheck }, CliJson.Indented));
            else
            {
                WriteText(output, inventory);
                WriteSelfCheck(output, selfCheck);
            }
            return 0;
        }));
        return command;
    }

    /// <summary>What `--device auto` picks: CUDA, then OpenCL, then the SIMD CPU backend.</summary>
    private static string AutoDevice(DeviceInventory inventory) =>
        inventory.Cuda.Any(d => d.Usable) ? "cuda" : inventory.OpenCL.Any(d => d.Usable) ? "opencl" : "cpu";

    private static void WriteText(TextWriter output, DeviceInventory inventory)
    {
        output.WriteLine(inventory.Drivers.Cuda);
        WriteDevices(output, "CUDA devices", inventory.Cuda);
        output.WriteLine(inventory.Drivers.OpenCL);
        WriteDevices(output, "OpenCL devices", inventory.OpenCL);
        var cpu = inventory.Cpu;
        output.WriteLine($"CPU: {cpu.Architecture}, {cpu.LogicalCores} logical cores, SIMD: Vector128 {YesNo(cpu.Vector128)}, " +
                         $"Vector256 {YesNo(cpu.Vector256)}, Vector512 {YesNo(cpu.Vector512)}, Vector<float>.Count {cpu.VectorFloatCount}");
        output.WriteLine("ILGPU CPU accelerator: available (--device ilgpu-cpu; a simulator for testing kernels, not for speed)");
        output.WriteLine($"--device auto uses: {AutoDevice(inventory)}");
        foreach (string problem in inventory.Problems) output.WriteLine($"note: {problem}");
    }

    private static void WriteDevices(TextWriter output, string title, IReadOnlyList<DeviceInventory.GpuDevice> devices)
    {
        output.WriteLine($"{title}: {(devices.Count == 0 ? "none found" : devices.Count.ToString())}");
        for (int i = 0; i < devices.Count; i++)
        {
            var d = devices[i];
            string capability = d.ComputeCapability is null ? "" : $", compute capability {d.ComputeCapability}";
            string status = d.Usable ? "" : $" [not usable: {d.Note}]";
            output.WriteLine($"  {i}: {d.Name}{capability}, {d.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB, {d.Multiprocessors} multiprocessors, warp {d.WarpSize}, {d.Driver}{status}");
        }
    }

    /// <summary>The fast kernels' self-check on one ILGPU device: the kernel set in use and each check.</summary>
    private sealed record KernelSelfCheck(string Device, string Kernels, IReadOnlyList<KernelCheck> Checks);

    private static KernelSelfCheck? SelfCheck(DeviceInventory inventory, string? device)
    {
        BackendKind? kind = device?.Trim().ToLowerInvariant() switch
        {
            null => inventory.Cuda.Any(d => d.Usable) ? BackendKind.Cuda : inventory.OpenCL.Any(d => d.Usable) ? BackendKind.OpenCL : null,
            "cuda" => BackendKind.Cuda,
            "opencl" => BackendKind.OpenCL,
            "ilgpu-cpu" => BackendKind.IlgpuCpu,
            _ => throw new EngineException($"--check-kernels: '{device}' is not one of cuda, opencl, ilgpu-cpu"),
        };
        if (kind is null) return null;
        using var backend = IlgpuBackend.TryCreate(kind.Value)
            ?? throw new EngineException($"--check-kernels {device}: no such device (see the list above without --check-kernels)");
        backend.Warn = _ => { }; // doctor reports every check itself
        var checks = backend.CheckAllFastKernels();
        return new KernelSelfCheck(backend.Name, backend.KernelsInUse, checks);
    }

    private static void WriteSelfCheck(TextWriter output, KernelSelfCheck? check)
    {
        if (check is null)
        {
            output.WriteLine("kernel self-check: no GPU to check (--check-kernels ilgpu-cpu runs it on the simulator)");
            return;
        }
        output.WriteLine($"kernel self-check on {check.Device}: kernels {check.Kernels} ({check.Checks.Count(c => c.Passed)} of {check.Checks.Count} fast kernels passed)");
        foreach (var c in check.Checks)
            output.WriteLine(c.Passed ? $"  {c.Kernel}: passed ({c.Detail})" : $"  {c.Kernel}: FAILED, the portable {c.PortableTwin} runs instead ({c.Detail})");
    }

    private static string YesNo(bool value) => value ? "yes" : "no";
}
