using Engine.Models.Kv;
using System.Text.Json;
using Engine.Cli;
using Engine.Core.Kv.LagKv;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>`engine run` with LagKV on the shared stories260K model: the acceptance command and its --json report.</summary>
[TestFixture]
public class LagKvRunCommandTests
{
    private static JsonElement Run(params string[] extra)
    {
        string model = SharedAssets.Require("models", "stories260K");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        string[] prompt = extra.Contains("--prompt-ids") ? [] : ["--prompt", "Once upon a time"];
        string[] args = ["run", "--model", model, .. prompt, "--json", "--device", "cpu", .. extra];
        int code = CliApp.Run(args, stdout, stderr);
        Assert.That(code, Is.EqualTo(0), stderr.ToString());
        return JsonDocument.Parse(stdout.ToString()).RootElement;
    }

    [Test]
    public void AcceptanceCommandCompressesEveryLayerOnSchedule()
    {
        var result = Run("--lagkv", "4x", "--lag-size", "32", "--sink-size", "4", "--max-tokens", "300");
        var options = new LagKvOptions { Retention = 0.25, LagSize = 32, SinkSize = 4 };
        var layers = result.GetProperty("kv").GetProperty("layers").EnumerateArray().ToArray();
        Assert.That(layers, Is.Not.Empty);
        foreach (var layer in layers)
        {
            int logical = layer.GetProperty("logical_len").GetInt32();
            Assert.That(logical, Is.GreaterThan(4 + 2 * 32), "the run was long enough to compress");
            Assert.That(layer.GetProperty("physical_len").GetInt32(), Is.EqualTo(LagKvSchedule.LengthAfter(options, logical)));
        }
        var report = result.GetProperty("kv_policy");
        Assert.That(report.GetProperty("policy").GetString(), Is.EqualTo("lagkv"));
        Assert.That(report.GetProperty("compression_ratio").GetDouble(), Is.GreaterThan(1.5));
        Assert.That(report.GetProperty("kv_bytes_saved").GetInt64(), Is.GreaterThan(0));
        Assert.That(report.GetProperty("layers")[0].GetProperty("compressions").GetInt32(), Is.GreaterThan(0));
    }

    [Test]
    public void FirstTokenMatchesTheFullCacheAfterOneShotPrefill()
    {
        // A prompt longer than S + 2L so that the prefill itself compresses.
        string[] prompt = ["--prompt-ids", string.Join(",", Enumerable.Range(0, 90).Select(i => 1 + (i * 37) % 400)), "--prefill-chunk", "0", "--max-tokens", "5", "--temperature", "0"];
        int Token0(JsonElement r) => r.GetProperty("tokens")[0].GetInt32();
        var full = Run(prompt);
        var lag = Run([.. prompt, "--lagkv", "8x", "--lag-size", "16", "--sink-size", "4"]);
        Assert.That(Token0(lag), Is.EqualTo(Token0(full)));
        Assert.That(lag.GetProperty("kv").GetProperty("layers")[0].GetProperty("physical_len").GetInt32(),
            Is.LessThan(full.GetProperty("kv").GetProperty("layers")[0].GetProperty("physical_len").GetInt32()));
    }

    [Test]
    public void BadLagKvTextAreOneLineErrors()
    {
        string model = SharedAssets.Require("models", "stories260K");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(["run", "--model", model, "--prompt", "hi", "--device", "cpu", "--lagkv", "64x"], stdout, stderr);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(stderr.ToString().TrimEnd(), Does.StartWith("error: --lagkv").And.Not.Contain("\n"));
    }
}
