using System.Text.Json;
using Engine.Cli;
using Engine.Core.Text;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

/// <summary>
/// `engine run` renders chat prompts with the same template inputs as `engine template` (--var, --date,
/// --tools): a copy of stories260K with a chat template that prints a variable and the clock.
/// </summary>
public class RunTemplateVariablesTests
{
    private const string Template = "{% for m in messages %}{{ m.content }} {% endfor %}{{ day }} {{ strftime_now('%Y') }}";

    private static TempFolder ModelWithTemplate()
    {
        string stories = SharedAssets.Require("models", "stories260K");
        var folder = new TempFolder();
        foreach (string file in new[] { "config.json", "generation_config.json", "model.safetensors", "tokenizer.json" })
            File.Copy(Path.Combine(stories, file), folder.File(file));
        File.WriteAllText(folder.File("chat_template.jinja"), Template);
        return folder;
    }

    private static int PromptTokens(string output) => JsonDocument.Parse(output).RootElement.GetProperty("prompt_tokens").GetInt32();

    [Test]
    public void VariablesAndDateReachTheChatTemplate()
    {
        using var model = ModelWithTemplate();
        var tokenizer = TextTokenizer.Load(model.Path);
        var (code, output, error) = Run("run", "--model", model.Path, "--system", "Lily", "--prompt", "Once upon a time",
            "--var", "day=\"Monday morning\"", "--date", "2024-01-02", "--max-tokens", "1", "--temperature", "0", "--device", "cpu", "--json");
        Assert.That(code, Is.EqualTo(0), error);
        int expected = tokenizer.Encode("Lily Once upon a time Monday morning 2024", addSpecialTokens: false).Length;
        Assert.That(PromptTokens(output), Is.EqualTo(expected));

        var (code2, output2, error2) = Run("run", "--model", model.Path, "--system", "Lily", "--prompt", "Once upon a time",
            "--date", "1999-05-05", "--max-tokens", "1", "--temperature", "0", "--device", "cpu", "--json");
        Assert.That(code2, Is.EqualTo(0), error2);
        Assert.That(PromptTokens(output2), Is.EqualTo(tokenizer.Encode("Lily Once upon a time  1999", addSpecialTokens: false).Length));
    }

    [Test]
    public void MalformedVariableIsAOneLineError()
    {
        using var model = ModelWithTemplate();
        var (code, _, error) = Run("run", "--model", model.Path, "--system", "s", "--prompt", "p", "--var", "day=Monday", "--device", "cpu");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.Trim(), Does.StartWith("error: --var day: value is not valid JSON"));
        Assert.That(error.Trim().Split('\n'), Has.Length.EqualTo(1));
    }
}
