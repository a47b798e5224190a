using System.Diagnostics;
using System.Text.Json.Nodes;
using Engine.Cli.Commands;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>The summary of a gpu-check.sh run, built from synthetic result files; and the scripts' syntax.</summary>
public sealed class GpuReportTests
{
    private static string Greedy(int[] tokens, double logprob) =>
        new JsonObject
        {
            ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode)t).ToArray()),
            ["logprobs"] = new JsonArray(tokens.Select(t => (JsonNode)new JsonArray(new JsonObject { ["id"] = t, ["logprob"] = logprob })).ToArray()),
        }.ToJsonString();

    private static TempFolder Results(int[] deviceTokens, double deviceLogprob, bool selftestPassed)
    {
        var folder = new TempFolder();
        File.WriteAllText(folder.File("steps.tsv"), "step\texit\tseconds\ndoctor\t0\t1.2\n");
        File.WriteAllText(folder.File("greedy-stories260K-device.json"), Greedy(deviceTokens, deviceLogprob));
        File.WriteAllText(folder.File("greedy-stories260K-cpu.json"), Greedy([5, 6, 7], -0.5));
        File.WriteAllText(folder.File("selftest.json"), new JsonObject
        {
            ["device"] = "cuda: test", ["passed"] = selftestPassed, ["kernels"] = "fast",
            ["cases"] = new JsonArray(new JsonObject { ["name"] = "add", ["passed"] = selftestPassed }),
        }.ToJsonString());
        File.WriteAllText(folder.File("bench-qwen2-7b-p512.json"), new JsonObject
        {
            ["model"] = "qwen2-7b", ["prompt_tokens"] = 512, ["gen_tokens"] = 128, ["kernels"] = "fast",
            ["prefill_tokens_per_s"] = new JsonObject { ["median"] = 1000.0 },
            ["decode_tokens_per_s"] = new JsonObject { ["median"] = 100.0 },
            ["decode_bytes_per_token"] = 15e9, ["weight_bytes"] = 15e9,
            ["kernel_launches_per_token"] = 396.0, ["host_syncs_per_token"] = 3.0, ["host_device_bytes_per_token"] = 12.0,
        }.ToJsonString());
        File.WriteAllText(folder.File("torch-peer.json"), new JsonObject
        {
            ["torch"] = "2.5", ["device"] = "H100",
            ["matmul_bf16"] = new JsonObject { ["tflops"] = 750.0 },
            ["copy_bandwidth"] = new JsonObject { ["gbps"] = 3000.0 },
            ["runs"] = new JsonArray(),
        }.ToJsonString());
        return folder;
    }

    [Test]
    public void SummarizesEveryPartAgainstTheSameRunPeer()
    {
        using var folder = Results([5, 6, 7], -0.505, selftestPassed: true);
        var report = GpuReportCommand.Build(folder.Path, "cuda");
        Assert.That(report.Passed, Is.True, report.Markdown);
        var bench = report.Json["bench"]![0]!;
        Assert.That(bench["decode_bandwidth_gbps"]!.GetValue<double>(), Is.EqualTo(1500).Within(1e-9));
        Assert.That(bench["decode_fraction_of_copy_bandwidth"]!.GetValue<double>(), Is.EqualTo(0.5).Within(1e-9));
        Assert.That(bench["prefill_tflops"]!.GetValue<double>(), Is.EqualTo(15.0).Within(1e-9)); // 2 x 7.5e9 params x 1000 tok/s
        Assert.That(report.Markdown, Does.Contain("| stories260K | 3 | True |").IgnoreCase);
        Assert.That(report.Markdown, Does.Contain("| qwen2-7b | 512 | fast |"));
        Assert.That(report.Markdown, Does.Contain("| 396 | 3.0 | 12 |"));
    }

    [Test]
    public void DifferentTokensFailTheCheck()
    {
        using var folder = Results([5, 6, 8], -0.5, selftestPassed: true);
        Assert.That(GpuReportCommand.Build(folder.Path, "cuda").Passed, Is.False);
    }

    [Test]
    public void LogprobsOutsideTheToleranceFailTheCheck()
    {
        using var folder = Results([5, 6, 7], -0.6, selftestPassed: true);
        Assert.That(GpuReportCommand.Build(folder.Path, "cuda").Passed, Is.False);
    }

    [Test]
    public void AFailedSelftestFailsTheCheck()
    {
        using var folder = Results([5, 6, 7], -0.5, selftestPassed: false);
        var report = GpuReportCommand.Build(folder.Path, "cuda");
        Assert.That(report.Passed, Is.False);
        Assert.That(report.Markdown, Does.Contain("selftest on cuda: test: FAILED"));
    }

    [TestCase("gpu-check.sh")]
    [TestCase("gpu-bundle.sh")]
    public void ScriptsParse(string script)
    {
        string path = Path.Combine(RepositoryRoot(), "scripts", script);
        using var bash = Process.Start(new ProcessStartInfo("bash", ["-n", path]) { RedirectStandardError = true })!;
        string errors = bash.StandardError.ReadToEnd();
        bash.WaitForExit();
        Assert.That(bash.ExitCode, Is.EqualTo(0), errors);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new InvalidOperationException("no Engine.sln above the test binaries");
    }
}
