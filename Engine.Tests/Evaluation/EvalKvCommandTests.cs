using System.Text.Json;
using Engine.Cli;
using Engine.Core.Kv.LagKv;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Evaluation;

/// <summary>`engine eval kv` end to end on stories260K (512-token context, L = 32, S = 4) through CliApp.Run.</summary>
public class EvalKvCommandTests
{
    private static string[] Args(string policy, string ratios, params string[] extra) =>
    [
        "eval", "kv", "--model", SharedAssets.Require("models", "stories260K"),
        "--text", SharedAssets.Require("models", "stories260K", "expected_greedy_200.txt"),
        "--policy", policy, "--ratios", ratios, "--lag-size", "32", "--sink-size", "4", "--device", "cpu", .. extra,
    ];

    private static JsonElement[] Results(string json) => JsonDocument.Parse(json).RootElement.GetProperty("results").EnumerateArray().ToArray();

    [Test]
    public void FullCacheAgainstItselfHasZeroKlAndFullAgreement()
    {
        var (code, output, error) = Run(Args("full", "4x", "--json"));
        Assert.That(code, Is.EqualTo(0), error);
        JsonKeys.AssertSnakeCase(JsonDocument.Parse(output).RootElement);
        var row = Results(output).Single();
        Assert.That(row.GetProperty("policy").GetString(), Is.EqualTo("full"));
        Assert.That(row.GetProperty("mean_kl").GetDouble(), Is.EqualTo(0).Within(1e-12));
        Assert.That(row.GetProperty("top1_agreement").GetDouble(), Is.EqualTo(1));
        Assert.That(row.GetProperty("perplexity_ratio").GetDouble(), Is.EqualTo(1).Within(1e-12));
        Assert.That(row.GetProperty("achieved_ratio").GetDouble(), Is.EqualTo(1));
    }

    [Test]
    public void TextShorterThanSinkPlusTwoLagsIsNeverCompressed()
    {
        // 60 tokens < S + 2L = 68: no policy may evict anything.
        var (code, output, error) = Run(Args("all", "8x", "--max-tokens", "60", "--json"));
        Assert.That(code, Is.EqualTo(0), error);
        var rows = Results(output);
        Assert.That(rows.Select(r => r.GetProperty("policy").GetString()), Is.EqualTo(new[] { "lagkv", "streaming", "snapkv", "h2o" }));
        foreach (var row in rows)
        {
            Assert.That(row.GetProperty("tokens").GetInt32(), Is.EqualTo(60));
            Assert.That(row.GetProperty("mean_kl").GetDouble(), Is.EqualTo(0).Within(1e-12));
            Assert.That(row.GetProperty("top1_agreement").GetDouble(), Is.EqualTo(1));
            Assert.That(row.GetProperty("final_kv_slots").GetDouble(), Is.EqualTo(60));
        }
    }

    [Test]
    public void EveryPolicyCompressesToLagKvBudgetAndDiverges()
    {
        var (code, output, error) = Run(Args("all", "4x", "--json"));
        Assert.That(code, Is.EqualTo(0), error);
        var rows = Results(output);
        Assert.That(rows, Has.Length.EqualTo(4));
        int tokens = rows[0].GetProperty("tokens").GetInt32();
        Assert.That(tokens, Is.GreaterThan(4 + 2 * 32), "the text must be long enough to compress");
        long budget = LagKvSchedule.LengthAfter(new LagKvOptions { Retention = 0.25, LagSize = 32, SinkSize = 4 }, tokens);
        double fullPpl = rows[0].GetProperty("perplexity_full").GetDouble();
        foreach (var row in rows)
        {
            string policy = row.GetProperty("policy").GetString()!;
            Assert.That(row.GetProperty("final_kv_slots").GetDouble(), Is.EqualTo(budget), policy);
            Assert.That(row.GetProperty("achieved_ratio").GetDouble(), Is.EqualTo((double)tokens / budget).Within(1e-9), policy);
            Assert.That(row.GetProperty("mean_kl").GetDouble(), Is.GreaterThan(0), policy);
            Assert.That(row.GetProperty("top1_agreement").GetDouble(), Is.InRange(0.0, 1.0), policy);
            Assert.That(row.GetProperty("perplexity_full").GetDouble(), Is.EqualTo(fullPpl), "the full run is the same for every policy");
        }
    }

    [Test]
    public void TablePrintsOneRowPerPolicyAndRatio()
    {
        var (code, output, error) = Run(Args("lagkv,streaming", "2x,8x"));
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("mean KL").And.Contain("top-1 agree").And.Contain("ppl ratio").And.Contain("achieved"));
        var rows = output.Split('\n').Where(l => l.Contains("lagkv") || l.Contains("streaming")).ToArray();
        Assert.That(rows, Has.Length.EqualTo(4));
        Assert.That(rows.Count(r => r.Contains(" 2x ")), Is.EqualTo(2));
        Assert.That(rows.Count(r => r.Contains(" 8x ")), Is.EqualTo(2));
    }

    [TestCase("--policy", "snapkv,bogus", "error: --policy 'bogus'")]
    [TestCase("--ratios", "3", "error: --ratios '3'")]
    [TestCase("--text", "/nonexistent/text.txt", "error: --text '/nonexistent/text.txt': file not found")]
    public void BadArgumentsGiveOneLineErrors(string option, string value, string message)
    {
        var args = Args("lagkv", "4x").ToList();
        int at = args.IndexOf(option);
        args[at + 1] = value;
        var (code, _, error) = Run(args.ToArray());
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith(message));
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
    }
}
