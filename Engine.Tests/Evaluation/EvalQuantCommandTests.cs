using System.Text.Json;
using Engine.Tests.Checkpoints.Gguf;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Evaluation;

/// <summary>`engine eval quant` end to end on stories260K (chunks of 128 of docs/eval/tinystory.txt) through CliApp.Run.</summary>
public class EvalQuantCommandTests
{
    private static string Stories => SharedAssets.Require("models", "stories260K");
    private static string Text => Path.Combine(SharedAssets.RepoRoot, "docs", "eval", "tinystory.txt");

    private static JsonElement Eval(string model, string quantized, params string[] extra)
    {
        var (code, output, error) = Run(["eval", "quant", "--model", model, "--quantized", quantized, "--text", Text, "--ctx", "128", "--device", "cpu", "--json", .. extra]);
        Assert.That(code, Is.Zero, error);
        var root = JsonDocument.Parse(output).RootElement;
        JsonKeys.AssertSnakeCase(root);
        return root;
    }

    private static double Get(JsonElement result, string key) => result.GetProperty(key).GetDouble();

    [Test]
    public void IdenticalModelsHaveZeroKlFullAgreementAndRatioOne()
    {
        var result = Eval(Stories, Stories);
        Assert.That(result.GetProperty("chunks").GetInt32(), Is.EqualTo(8));
        Assert.That(result.GetProperty("positions").GetInt32(), Is.EqualTo(8 * 63), "positions 64..126 of each chunk");
        Assert.That(Get(result, "mean_kl"), Is.EqualTo(0).Within(1e-12));
        Assert.That(Get(result, "max_kl"), Is.EqualTo(0).Within(1e-12));
        Assert.That(Get(result, "top1_agreement"), Is.EqualTo(1));
        Assert.That(Get(result, "perplexity_ratio"), Is.EqualTo(1).Within(1e-12));
        Assert.That(Get(result, "rms_delta_p"), Is.EqualTo(0).Within(1e-12));
    }

    [Test]
    public void LlamaCppQ8_0AgainstItsF32IsClose()
    {
        var result = Eval(GgufAssets.Path("stories260K-f32.gguf"), GgufAssets.Path("stories260K-q8_0.gguf"));
        Assert.That(Get(result, "mean_kl"), Is.GreaterThan(0).And.LessThan(0.005));
        Assert.That(Get(result, "kl99"), Is.GreaterThanOrEqualTo(Get(result, "median_kl")).And.LessThanOrEqualTo(Get(result, "max_kl")));
        Assert.That(Get(result, "top1_agreement"), Is.GreaterThan(0.95));
        Assert.That(Get(result, "perplexity_ratio"), Is.EqualTo(1).Within(0.02));
    }

    [Test]
    public void QuantizeTypeAtLoadMeasuresWhatTheQuantizedFileMeasures()
    {
        using var temp = new TempFolder();
        string file = temp.File("stories260K-Q8_0.gguf");
        Assert.That(Run("quantize", "--model", Stories, "--type", "q8_0", "--out", file).Code, Is.Zero);
        var atLoad = Eval(Stories, "q8_0");
        var fromFile = Eval(Stories, file);
        foreach (string key in new[] { "mean_kl", "max_kl", "top1_agreement", "perplexity_quantized", "perplexity_ratio" })
            Assert.That(Get(fromFile, key), Is.EqualTo(Get(atLoad, key)), key);
        Assert.That(Get(atLoad, "mean_kl"), Is.GreaterThan(0).And.LessThan(0.005));
    }

    [Test]
    public void BadArgumentsAreOneLineErrors()
    {
        var (code, _, error) = Run("eval", "quant", "--model", Stories, "--quantized", "q9_9", "--device", "cpu");
        Assert.That(code, Is.Not.Zero);
        Assert.That(error, Does.Contain("'q9_9' is not a quantization type"));
        (code, _, error) = Run("eval", "quant", "--model", Stories, "--quantized", "q8_0", "--text", Text, "--tokens", "100", "--ctx", "128", "--device", "cpu");
        Assert.That(code, Is.Not.Zero);
        Assert.That(error, Does.Contain("less than one chunk of 128"));
        Assert.That(error.Trim(), Does.Not.Contain('\n'));
    }
}
