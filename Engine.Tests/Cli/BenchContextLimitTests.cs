using Engine.Cli;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>`engine bench` honours the model's context (the limit is named) and says what it is doing on stderr.</summary>
public class BenchContextLimitTests
{
    private static string Stories => SharedAssets.Require("models", "stories260K");

    [Test]
    public void PromptBeyondTheContextIsRejectedWithTheLimit()
    {
        var (code, output, error) = Run("bench", "-m", Stories, "--device", "cpu", "--prompt-tokens", "600");
        Assert.That(code, Is.EqualTo(ExitCodes.Error));
        Assert.That(output, Is.Empty);
        Assert.That(error.Trim(), Does.StartWith("error: --prompt-tokens 600 + --gen-tokens 128 = 728 tokens exceed the context").And.Contain("512 tokens").And.Not.Contain("\n"));
    }

    [Test]
    public void TheDefaultPromptShrinksToFit()
    {
        // 512 prompt + 128 generated tokens would exceed stories260K's 512: the default prompt becomes 384.
        var (code, output, error) = Run("bench", "-m", Stories, "--device", "cpu", "--gen-tokens", "128", "--repetitions", "1", "--bandwidth-probe-mib", "16", "--json");
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(System.Text.Json.JsonDocument.Parse(output).RootElement.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(384));
    }

    [TestCase("--prompt-tokens", "40000")]
    [TestCase("--context", "100000")]
    public void RandomWeightsOfARegistryShapeKeepItsContext(string flag, string value)
    {
        var (code, _, error) = Run("bench", "-m", "qwen2.5-0.5b", "--random-weights", "--device", "cpu", flag, value);
        Assert.That(code, Is.EqualTo(ExitCodes.Error));
        Assert.That(error, Does.StartWith($"error: {flag} {value} + --gen-tokens 128").And.Contain("32768 tokens"));
        Assert.That(error, Does.Not.Contain("bench: loading"), "rejected before any loading");
    }

    [Test]
    public void LagKvThatCannotCompressWithinTheRequestsWarns()
    {
        var (code, _, error) = Run("bench", "-m", Stories, "--device", "cpu", "--prompt-tokens", "12", "--gen-tokens", "3", "--repetitions", "1",
            "--bandwidth-probe-mib", "16", "--lagkv", "4x", "--json");
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(error, Does.Contain("warning: --lagkv compresses nothing within the benchmark's requests of 15 tokens"));
    }

    [Test]
    public void EachPhaseIsALineOnStderr()
    {
        var (code, _, error) = Run("bench", "-m", Stories, "--device", "cpu", "--prompt-tokens", "12", "--gen-tokens", "3", "--repetitions", "2",
            "--bandwidth-probe-mib", "16", "--json");
        Assert.That(code, Is.EqualTo(0), error);
        string[] lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0], Does.StartWith("bench: loading"));
        Assert.That(lines, Has.Some.EqualTo("bench: full cache request 1/2: warm-up..."));
        Assert.That(lines, Has.Some.EqualTo("bench: full cache request 2/2: prefill of 12 tokens..."));
        Assert.That(lines, Has.Some.StartsWith("bench: full cache request 2/2: decode of 3 tokens (prefill took"));
        Assert.That(lines, Has.Some.StartsWith("bench: measuring memory bandwidth"));
    }
}
