using System.Text.Json;
using Engine.Cli;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

public class BenchCommandTests
{
    private static readonly string[] Small = ["--device", "cpu", "--threads", "2", "--prompt-tokens", "12", "--gen-tokens", "5", "--repetitions", "3", "--bandwidth-probe-mib", "32"];

    [Test]
    public void JsonOnStories260KHasEveryFieldAndConsistentNumbers()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        string record = Path.Combine(Path.GetTempPath(), $"bench-{Guid.NewGuid():N}.jsonl");
        try
        {
            var (code, output, error) = Run(["bench", "--model", folder, "--json", "--record", record, .. Small]);
            Assert.That(code, Is.EqualTo(0), error);
            using var doc = JsonDocument.Parse(output);
            var root = doc.RootElement;
            foreach (var name in new[] { "prefill_tokens_per_s", "decode_tokens_per_s" })
            {
                var spread = root.GetProperty(name);
                double min = spread.GetProperty("min").GetDouble(), median = spread.GetProperty("median").GetDouble(), max = spread.GetProperty("max").GetDouble();
                Assert.That(min, Is.GreaterThan(0), name);
                Assert.That(median, Is.InRange(min, max), name);
            }
            Assert.That(root.GetProperty("ttft_ms").GetDouble(), Is.GreaterThan(0));
            // stories260K: f32 weights, 5 layers x 2 (K, V) x 4 KV heads x head_dim 8 x 4 bytes of KV per token.
            Assert.That(root.GetProperty("kv_bytes_per_token").GetInt64(), Is.EqualTo(5 * 2 * 4 * 8 * 4));
            Assert.That(root.GetProperty("dtype").GetString(), Is.EqualTo("F32"));
            Assert.That(root.GetProperty("threads").GetInt32(), Is.EqualTo(2));
            Assert.That(root.GetProperty("device").GetString(), Does.StartWith("cpu-simd (2 threads"));
            long weights = root.GetProperty("weight_bytes").GetInt64();
            Assert.That(weights, Is.GreaterThan(0));
            Assert.That(root.GetProperty("peak_device_bytes").GetInt64(), Is.GreaterThanOrEqualTo(weights));
            Assert.That(root.GetProperty("peak_host_bytes").GetInt64(), Is.GreaterThan(weights));
            double decode = root.GetProperty("decode_tokens_per_s").GetProperty("median").GetDouble();
            double bandwidth = root.GetProperty("decode_bandwidth_gbps").GetDouble();
            Assert.That(bandwidth, Is.EqualTo(root.GetProperty("decode_bytes_per_token").GetInt64() * decode / 1e9).Within(1e-9 * (1 + bandwidth)));
            double measured = root.GetProperty("measured_bandwidth_gbps").GetDouble();
            Assert.That(measured, Is.GreaterThan(0));
            Assert.That(root.GetProperty("roofline_fraction").GetDouble(), Is.EqualTo(bandwidth / measured).Within(1e-9));
            var recorded = File.ReadAllLines(record);
            Assert.That(recorded, Has.Length.EqualTo(1));
            Assert.That(JsonDocument.Parse(recorded[0]).RootElement.GetProperty("weight_bytes").GetInt64(), Is.EqualTo(weights));
        }
        finally { File.Delete(record); }
    }

    [Test]
    public void RandomWeightsTakeTheChosenDtypeAndPrintATable()
    {
        string folder = SharedAssets.Require("models", "llama-tiny");
        var (code, output, error) = Run(["bench", "--model", folder, "--random-weights", "--dtype", "f16", .. Small]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("dtype                F16 (random weights)"));
        Assert.That(output, Does.Contain("  run 3: prefill "));
        Assert.That(output, Does.Match(@"decode\s+[0-9.]+ tok/s \(min [0-9.]+, max [0-9.]+\)"));
        Assert.That(output, Does.Match(@"roofline fraction\s+[0-9]+ %"));
    }

    [TestCase("--gen-tokens", "1", "--gen-tokens must be >= 2")]
    [TestCase("--repetitions", "0", "--repetitions must be >= 1")]
    [TestCase("--context", "-1", "--context must be >= 1")]
    [TestCase("--dtype", "bf16", "--dtype applies to --random-weights")]
    public void BadSettingsAreOneLineErrors(string option, string value, string message)
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var (code, _, error) = Run("bench", "--model", folder, "--device", "cpu", "--prompt-tokens", "8", option, value);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: ").And.Contain(message));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void UnknownRandomDtypeIsAnError()
    {
        string folder = SharedAssets.Require("models", "llama-tiny");
        var (code, _, error) = Run("bench", "--model", folder, "--device", "cpu", "--random-weights", "--dtype", "int8");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.Trim(), Is.EqualTo("error: --dtype 'int8' is not one of bf16, f16, f32"));
    }
}
