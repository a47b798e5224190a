using System.Text.Json;
using Engine.Cli;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>`engine selftest` (what gpu-check.sh runs on the GPU), here on the SIMD CPU backend against itself.</summary>
public sealed class SelfTestCommandTests
{
    [Test]
    public void RunsEveryOpCaseAndPrintsJson()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(["selftest", "--device", "cpu", "--json"], stdout, stderr);
        Assert.That(exit, Is.EqualTo(0), stderr.ToString() + stdout);
        using var doc = JsonDocument.Parse(stdout.ToString());
        var root = doc.RootElement;
        Assert.That(root.GetProperty("passed").GetBoolean(), Is.True);
        var names = root.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()).ToArray();
        Assert.That(names, Has.Length.GreaterThan(40));
        Assert.That(names, Does.Contain("kv write + attention bf16 pool, 1 queries over 300 slots").And.Contain("linear bf16 rows 1 in 96").And.Contain("argmax"));
    }

    [Test]
    public void IsHiddenFromHelp()
    {
        var stdout = new StringWriter();
        CliApp.Run(["--help"], stdout, new StringWriter());
        Assert.That(stdout.ToString(), Does.Not.Contain("selftest").And.Not.Contain("gpu-report"));
    }
}
