using System.Text.Json;
using Engine.Cli;
using Engine.Kernels;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Cli;

public sealed class DoctorCommandTests
{
    [Test]
    public void PrintsDevicesAndCpu()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(["doctor"], stdout, stderr);
        Assert.That(exit, Is.EqualTo(0), stderr.ToString());
        string text = stdout.ToString();
        Assert.That(text, Does.Contain("CUDA devices:"));
        Assert.That(text, Does.Contain("OpenCL devices:"));
        Assert.That(text, Does.Contain($"{Environment.ProcessorCount} logical cores"));
        Assert.That(text, Does.Contain($"Vector<float>.Count {System.Numerics.Vector<float>.Count}"));
    }

    [Test]
    public void JsonMatchesTheInventory()
    {
        var stdout = new StringWriter();
        int exit = CliApp.Run(["doctor", "--json"], stdout, new StringWriter());
        Assert.That(exit, Is.EqualTo(0));
        using var doc = JsonDocument.Parse(stdout.ToString());
        var root = doc.RootElement;
        JsonKeys.AssertSnakeCase(root);
        var inventory = DeviceInventory.Probe();
        Assert.That(root.GetProperty("cuda").GetArrayLength(), Is.EqualTo(inventory.Cuda.Count));
        Assert.That(root.GetProperty("opencl").GetArrayLength(), Is.EqualTo(inventory.OpenCL.Count));
        Assert.That(root.GetProperty("cpu").GetProperty("logical_cores").GetInt32(), Is.EqualTo(Environment.ProcessorCount));
        Assert.That(root.GetProperty("cpu").GetProperty("vector256").GetBoolean(), Is.EqualTo(System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated));
        Assert.That(root.GetProperty("auto_device").GetString(), Is.AnyOf("cuda", "opencl", "cpu"));
    }
}
