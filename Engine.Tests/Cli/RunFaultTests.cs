using System.Text.Json;
using Engine.Cli;
using Engine.Cli.Formatting;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>
/// `engine run` never loses a result: an exhausted KV pool, non-finite logits and an interrupt still
/// print the tokens so far (text and --json) with the finish reason, and exit with their own code.
/// </summary>
public class RunFaultTests
{
    private static string Stories => SharedAssets.Require("models", "stories260K");

    [Test]
    public void KvExhaustionPrintsTheJsonWithTheTokensSoFar()
    {
        var (code, output, error) = Run("run", "--model", Stories, "--prompt", "Once upon a time", "--kv-memory", "20K", "--max-tokens", "300", "--json", "--device", "cpu");
        Assert.That(code, Is.EqualTo(ExitCodes.KvExhausted));
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("finish_reason").GetString(), Is.EqualTo("kv_exhausted"));
        Assert.That(root.GetProperty("tokens").GetArrayLength(), Is.GreaterThan(0));
        Assert.That(root.GetProperty("text").GetString(), Is.Not.Empty);
        Assert.That(error.TrimEnd(), Does.StartWith("error: KV cache pool exhausted").And.Not.Contain("\n"));
    }

    [Test]
    public void KvExhaustionKeepsTheStreamedText()
    {
        var (code, output, error) = Run("run", "--model", Stories, "--prompt", "Once upon a time", "--kv-memory", "20K", "--max-tokens", "300", "--device", "cpu");
        Assert.That(code, Is.EqualTo(ExitCodes.KvExhausted));
        Assert.That(output.Trim(), Is.Not.Empty);
        string[] lines = error.TrimEnd().Split('\n');
        Assert.That(lines[0], Does.Contain("finish kv_exhausted"));
        Assert.That(lines[^1], Does.StartWith("error: KV cache pool exhausted"));
    }

    [Test]
    public void DamagedWeightsAreNamedAtLoad()
    {
        using var damaged = new DamagedModel("model.layers.0.post_attention_layernorm.weight", float.NaN);
        var (code, output, error) = Run("run", "-m", damaged.Folder, "--prompt-ids", "1", "--device", "cpu");
        Assert.That(code, Is.EqualTo(ExitCodes.Error));
        Assert.That(output, Is.Empty);
        Assert.That(error.TrimEnd(), Does.StartWith("error: tensor model.layers.0.post_attention_layernorm.weight in ").And.Contain("non-finite").And.Not.Contain("\n"));
    }

    [TestCase("0")]
    [TestCase("2")]
    public void NonFiniteLogitsStopWithFinishReasonErrorAndValidJson(string logprobs)
    {
        using var damaged = new DamagedModel("model.norm.weight", 3e38f);
        var (code, output, error) = Run("run", "-m", damaged.Folder, "--prompt-ids", "1", "--max-tokens", "5", "--temperature", "0", "--device", "cpu", "--json", "--logprobs", logprobs);
        Assert.That(code, Is.EqualTo(ExitCodes.GenerationError), error);
        using var doc = JsonDocument.Parse(output);
        Assert.That(doc.RootElement.GetProperty("finish_reason").GetString(), Is.EqualTo("error"));
        Assert.That(doc.RootElement.GetProperty("tokens").GetArrayLength(), Is.Zero, "no token is chosen from non-finite logits");
        Assert.That(error.TrimEnd(), Does.StartWith("error: the logits turned non-finite").And.Not.Contain("\n"));
    }

    [Test]
    public void NonFiniteNumbersAreWrittenAsNull()
    {
        var document = new Dictionary<string, object?>
        {
            ["logprob"] = double.NegativeInfinity, ["nan"] = double.NaN, ["f"] = float.PositiveInfinity, ["ok"] = -0.5,
            ["nested"] = new[] { new Dictionary<string, object> { ["logprob"] = double.NegativeInfinity } },
        };
        Assert.That(JsonSerializer.Serialize(document, CliJson.Compact),
            Is.EqualTo("{\"logprob\":null,\"nan\":null,\"f\":null,\"ok\":-0.5,\"nested\":[{\"logprob\":null}]}"));
    }

    [Test]
    public void InterruptedRunPrintsThePartialTextAndExits130()
    {
        using var cancel = new CancellationTokenSource();
        var stdout = new CancelOnFirstWrite(cancel); // Ctrl-C as soon as the first token's text appears
        var stderr = new StringWriter();
        int code = CliApp.Run(["run", "-m", Stories, "--prompt-ids", "1", "--max-tokens", "200", "--temperature", "0", "--device", "cpu"], stdout, stderr, cancel.Token);
        Assert.That(code, Is.EqualTo(ExitCodes.Interrupted));
        Assert.That(stdout.ToString().Trim(), Is.Not.Empty.And.Length.LessThan(40), "the partial text: a token or two");
        Assert.That(stderr.ToString(), Does.Contain("finish cancelled"));
    }

    [Test]
    public void InterruptedJsonRunStillPrintsTheObject()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(["run", "-m", Stories, "--prompt-ids", "1", "--max-tokens", "200", "--device", "cpu", "--json"], stdout, stderr, cancel.Token);
        Assert.That(code, Is.EqualTo(ExitCodes.Interrupted), stderr.ToString());
        using var doc = JsonDocument.Parse(stdout.ToString());
        Assert.That(doc.RootElement.GetProperty("finish_reason").GetString(), Is.EqualTo("cancelled"));
        Assert.That(doc.RootElement.GetProperty("prefill_tokens").GetInt32(), Is.Zero);
    }

    private sealed class CancelOnFirstWrite(CancellationTokenSource cancel) : StringWriter
    {
        public override void Write(string? value)
        {
            base.Write(value);
            if (!string.IsNullOrEmpty(value)) cancel.Cancel();
        }
    }
}
