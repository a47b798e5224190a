using System.Text.Json;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>`engine bench --concurrency`: every level reported with its keys (no timing assertions).</summary>
public class BenchConcurrencyTests
{
    private static readonly string[] Small = ["--device", "cpu", "--threads", "2", "--prompt-tokens", "12", "--gen-tokens", "6"];

    [Test]
    public void JsonReportsEveryLevel()
    {
        string stories = SharedAssets.Require("models", "stories260K");
        var (code, output, error) = Run(["bench", "--model", stories, "--json", "--concurrency", "1,3,5", .. Small]);
        Assert.That(code, Is.EqualTo(0), error);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("kv_policy").GetString(), Is.EqualTo("full"));
        Assert.That(root.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(12));
        var levels = root.GetProperty("levels").EnumerateArray().ToArray();
        Assert.That(levels.Select(l => l.GetProperty("concurrency").GetInt32()), Is.EqualTo(new[] { 1, 3, 5 }));
        foreach (var level in levels)
        {
            foreach (string key in new[] { "aggregate_decode_tokens_per_s", "per_sequence_decode_tokens_per_s", "prefill_tokens_per_s", "wall_s" })
                Assert.That(level.GetProperty(key).GetDouble(), Is.GreaterThan(0), key);
            foreach (string key in new[] { "ttft_ms", "inter_token_ms" })
            {
                double p50 = level.GetProperty(key).GetProperty("p50").GetDouble(), p99 = level.GetProperty(key).GetProperty("p99").GetDouble();
                Assert.That(p50, Is.GreaterThan(0), key);
                Assert.That(p99, Is.GreaterThanOrEqualTo(p50), key);
            }
            // stories260K: 5 layers; each sequence holds 18 slots, two 16-slot pages per layer.
            int used = level.GetProperty("kv_pages_used").GetInt32();
            Assert.That(used, Is.InRange(5 * 2, level.GetProperty("concurrency").GetInt32() * 5 * 2), "pages held at once: two per layer per sequence running together");
            Assert.That(level.GetProperty("kv_pages_total").GetInt32(), Is.GreaterThanOrEqualTo(used));
        }
    }

    [Test]
    public void TableWithRandomWeightsAndLagKv()
    {
        string stories = SharedAssets.Require("models", "stories260K");
        var (code, output, error) = Run(["bench", "--model", stories, "--random-weights", "--lagkv", "4x", "--lag-size", "4", "--sink-size", "2",
            "--concurrency", "1,2", .. Small]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("KV policy lagkv"));
        var lines = output.Split('\n');
        int header = Array.FindIndex(lines, l => l.Contains("decode tok/s") && l.Contains("itl p50/p99 ms"));
        Assert.That(header, Is.GreaterThanOrEqualTo(0), output);
        Assert.That(lines[header + 1].Trim(), Does.StartWith("1 "));
        Assert.That(lines[header + 2].Trim(), Does.StartWith("2 "));
    }

    [TestCase("1,0")]
    [TestCase("four")]
    public void BadLevelsAreOneLineErrors(string levels)
    {
        string stories = SharedAssets.Require("models", "stories260K");
        var (code, _, error) = Run(["bench", "--model", stories, "--concurrency", levels, .. Small]);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.Trim(), Does.StartWith($"error: --concurrency '{levels}'"));
    }
}
