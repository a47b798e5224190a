using System.CommandLine;
using System.Text.Json;
using Engine.Kernels;

namespace Engine.Cli.Commands;

/// <summary>`engine doctor`: the CUDA/OpenCL devices ILGPU sees and the CPU's SIMD support; never fails on a missing driver.</summary>
internal static class DoctorCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the inventory as JSON" };
        var command = new Command("doctor", "Show the compute devices the engine can use (CUDA, OpenCL, CPU SIMD)");
        command.Options.Add(json);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            var output = pr.InvocationConfiguration.Output;
            var inventory = DeviceInventory.Probe();
            if (pr.GetValue(json)) output.WriteLine(JsonSerializer.Serialize(new { inventory.Cuda, inventory.OpenCL, inventory.Cpu, inventory.Problems, inventory.Drivers, AutoDevice = AutoDevice(inventory) }, Json));
            else WriteText(output, inventory);
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

    private static string YesNo(bool value) => value ? "yes" : "no";
}
