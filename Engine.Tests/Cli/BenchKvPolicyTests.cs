using System.Text.Json;
using Engine.Cli;
using Engine.Core.Kv.LagKv;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>`engine bench` with a KV-cache policy beside its full-cache baseline, and `--context N`.</summary>
public class BenchKvPolicyTests
{
    private const int Layers = 5, PageSize = 16; // stories260K, the default page size

    private static string[] Small(string folder) =>
        ["bench", "--model", folder, "--device", "cpu", "--threads", "2", "--gen-tokens", "6", "--repetitions", "2", "--bandwidth-probe-mib", "16"];

    private static JsonElement Json(params string[] args)
    {
        var (code, output, error) = Run([.. args, "--json"]);
        Assert.That(code, Is.EqualTo(0), error);
        var root = JsonDocument.Parse(output).RootElement.Clone();
        JsonKeys.AssertSnakeCase(root);
        return root;
    }

    [Test]
    public void LagKvRunHoldsFewerKvBytesThanItsBaselineAndReportsItsCompressionShare()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var root = Json([.. Small(folder), "--context", "40", "--lagkv", "2x", "--lag-size", "8", "--sink-size", "4"]);
        Assert.That(root.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(40));
        Assert.That(root.GetProperty("prefill_schedule").GetString(), Does.StartWith("auto"));
        var policy = root.GetProperty("kv_policy");
        var baseline = root.GetProperty("baseline");
        Assert.That(policy.GetProperty("policy").GetString(), Is.EqualTo("lagkv"));
        Assert.That(policy.GetProperty("lagkv").GetProperty("lag_size").GetInt32(), Is.EqualTo(8));

        // The cache at the end holds prompt + generated - 1 tokens (the last token is never fed back).
        int tokens = 40 + 6 - 1;
        long perToken = root.GetProperty("kv_bytes_per_token").GetInt64();
        Assert.That(policy.GetProperty("logical_slots").GetInt64(), Is.EqualTo((long)Layers * tokens));
        var options = new LagKvOptions { Retention = 0.5, LagSize = 8, SinkSize = 4 };
        Assert.That(policy.GetProperty("physical_slots").GetInt64(), Is.EqualTo(Layers * LagKvSchedule.LengthAfter(options, tokens)));

        long compressed = policy.GetProperty("kv_bytes").GetInt64(), full = baseline.GetProperty("kv_bytes").GetInt64();
        Assert.That(root.GetProperty("kv_bytes").GetInt64(), Is.EqualTo(compressed));
        Assert.That(full, Is.EqualTo((tokens + PageSize - 1) / PageSize * PageSize * perToken));
        Assert.That(compressed, Is.LessThan(full));
        Assert.That(compressed, Is.GreaterThanOrEqualTo(policy.GetProperty("physical_slots").GetInt64() * perToken / Layers));
        Assert.That(policy.GetProperty("kv_bytes_vs_baseline").GetDouble(), Is.EqualTo((double)compressed / full).Within(1e-4));
        Assert.That(policy.GetProperty("compression_ratio").GetDouble(), Is.GreaterThan(1));
        Assert.That(baseline.GetProperty("compression_ratio").GetDouble(), Is.EqualTo(1));

        Assert.That(policy.GetProperty("compressions_per_request").GetInt32(), Is.GreaterThan(0));
        Assert.That(policy.GetProperty("compression_prefill_ms").GetDouble(), Is.GreaterThan(0));
        Assert.That(policy.GetProperty("compression_share_of_prefill").GetDouble(), Is.InRange(0.0, 1.0));
        Assert.That(policy.GetProperty("compression_share_of_decode").GetDouble(), Is.InRange(0.0, 1.0));
        foreach (var side in new[] { root, baseline })
            Assert.That(side.GetProperty("decode_tokens_per_s").GetProperty("median").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void PressModeCompressesEachLayerOnceAfterThePrompt()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var root = Json([.. Small(folder), "--context", "40", "--lagkv", "2x", "--lag-size", "8", "--sink-size", "4", "--lagkv-mode", "press"]);
        var policy = root.GetProperty("kv_policy");
        var options = new LagKvOptions { Retention = 0.5, LagSize = 8, SinkSize = 4, Mode = LagKvMode.Press };
        Assert.That(policy.GetProperty("compressions_per_request").GetInt32(), Is.EqualTo(Layers));
        Assert.That(policy.GetProperty("compression_decode_ms").GetDouble(), Is.Zero);
        // The prompt is pressed to floor(T * r) slots; the 5 decoded tokens (all but the last generated) stay.
        Assert.That(policy.GetProperty("physical_slots").GetInt64(), Is.EqualTo(Layers * (LagKvSchedule.PressKeepCount(options, 40) + 5L)));
    }

    [Test]
    public void BaselinePolicyWithoutItsOwnTimerIsTimedByTheWrapper()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var root = Json([.. Small(folder), "--prompt-tokens", "40", "--kv-policy", "streaming", "--lagkv", "2x", "--lag-size", "8", "--sink-size", "4"]);
        var policy = root.GetProperty("kv_policy");
        Assert.That(policy.GetProperty("policy").GetString(), Is.EqualTo("streaming"));
        Assert.That(policy.GetProperty("kv_bytes").GetInt64(), Is.LessThan(root.GetProperty("baseline").GetProperty("kv_bytes").GetInt64()));
        Assert.That(policy.GetProperty("compressions_per_request").GetInt32(), Is.GreaterThan(0));
        Assert.That(policy.GetProperty("compression_share_of_prefill").GetDouble(), Is.InRange(0.0, 1.0));
    }

    [Test]
    public void WithoutAPolicyThereIsNoBaselineButKvBytesAreReported()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var root = Json([.. Small(folder), "--context", "20"]);
        Assert.That(root.TryGetProperty("kv_policy", out _), Is.False);
        Assert.That(root.TryGetProperty("baseline", out _), Is.False);
        Assert.That(root.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(20));
        Assert.That(root.GetProperty("kv_bytes").GetInt64(), Is.EqualTo(2 * PageSize * root.GetProperty("kv_bytes_per_token").GetInt64()));
    }

    [Test]
    public void TableShowsThePolicyBesideTheBaseline()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var (code, output, error) = Run([.. Small(folder), "--context", "40", "--lagkv", "2x", "--lag-size", "8", "--sink-size", "4"]);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("  baseline run 2: prefill "));
        Assert.That(output, Does.Match(@"kv at end\s+[0-9.]+ MB vs [0-9.]+ MB full \([0-9.]+x fewer slots\)"));
        Assert.That(output, Does.Match(@"compression time\s+[0-9.]+ ms in prefill \([0-9.]+ %\)"));
        Assert.That(output, Does.Match(@"baseline decode\s+[0-9.]+ tok/s"));
    }

    [TestCase("--context 40 --prompt-tokens 8", "--context 40 sets the prompt length")]
    [TestCase("--context 0", "--context must be >= 1")]
    [TestCase("--lag-size 8", "--lag-size needs --lagkv")]
    [TestCase("--kv-policy snapkv", "--kv-policy snapkv needs a budget")]
    [TestCase("--lagkv 2x --kv-policy bogus", "--kv-policy: unknown policy 'bogus'")]
    [TestCase("--lagkv 2x --lag-size 1", "lag size L = 1: it must be at least 2")]
    public void BadFlagCombinationsAreOneLineErrors(string flags, string message)
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var (code, _, error) = Run(["bench", "--model", folder, "--device", "cpu", .. flags.Split(' ')]);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: ").And.Contain(message));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }
}
