using System.Text.Json;
using Engine.Cli;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Evaluation;

/// <summary>`engine eval passkey` end to end on stories260K through CliApp.Run (shape of the grid, skipping, scores in range).</summary>
public class EvalPasskeyCommandTests
{
    private static string[] Args(params string[] extra) =>
    [
        "eval", "passkey", "--model", SharedAssets.Require("models", "stories260K"), "--lengths", "20,100000", "--depths", "2",
        "--keys", "1", "--max-new-tokens", "16", "--device", "cpu", .. extra,
    ];

    [Test]
    public void JsonHasOneTrialPerDepthAndSkipsLengthsBeyondTheContext()
    {
        var (code, output, error) = Run(Args("--json"));
        Assert.That(code, Is.EqualTo(0), error);
        var root = JsonDocument.Parse(output).RootElement;
        JsonKeys.AssertSnakeCase(root);
        Assert.That(root.GetProperty("skipped_lengths").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 100000 }));
        var trials = root.GetProperty("trials").EnumerateArray().ToArray();
        Assert.That(trials.Select(t => t.GetProperty("depth").GetDouble()), Is.EqualTo(new[] { 0.0, 1.0 }));
        foreach (var trial in trials)
        {
            Assert.That(trial.GetProperty("words").GetInt32(), Is.EqualTo(20));
            Assert.That(trial.GetProperty("key").GetString(), Does.Match("^[0-9]{64}$"));
            Assert.That(trial.GetProperty("answer").GetString(), Is.Not.Empty, "the model generates an answer");
            Assert.That(trial.GetProperty("partial_match").GetDouble(), Is.InRange(0.0, 1.0));
        }
        Assert.That(root.GetProperty("setting").GetString(), Is.EqualTo("full cache"));
    }

    [Test]
    public void GridUnderLagKvPrintsDepthColumnsAndTheSkipNote()
    {
        var (code, output, error) = Run(Args("--lagkv", "4x", "--lag-size", "16", "--sink-size", "4"));
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(output, Does.Contain("d=0").And.Contain("d=1").And.Contain("EM %").And.Contain("PM %"));
        Assert.That(output, Does.Contain("lagkv 4x (S=4, L=16): exact match"));
        Assert.That(output, Does.Contain("skipped 100000 words: the prompt and answer exceed the context of 512 tokens"));
    }

    [Test]
    public void BaselinePolicyNeedsARatio()
    {
        var (code, _, error) = Run(Args("--policy", "snapkv"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.Trim(), Is.EqualTo("error: --policy snapkv needs --lagkv RATIO to set its budget"));
    }

    [Test]
    public void NoFittingLengthIsAnError()
    {
        var args = Args().ToList();
        args[args.IndexOf("--lengths") + 1] = "100000";
        var (code, _, error) = Run(args.ToArray());
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: no --lengths fits the context of 512 tokens"));
    }
}
