using System.Text.Json.Nodes;
using Engine.Cli;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Text.Templates;

/// <summary>`engine template` run in-process on golden case folders and on small scratch folders.</summary>
public class TemplateCommandTests
{
    private string _scratch = "";

    [SetUp]
    public void CreateScratch()
    {
        _scratch = Path.Combine(Path.GetTempPath(), "engine-template-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_scratch);
    }

    [TearDown]
    public void DeleteScratch() => Directory.Delete(_scratch, recursive: true);

    private string WriteFile(string name, string text)
    {
        string path = Path.Combine(_scratch, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static JsonObject GoldenCase(string model, string name)
    {
        string path = SharedAssets.Require("chat-templates", model, "cases.json");
        return JsonNode.Parse(File.ReadAllText(path))!.AsArray().Single(c => c!["name"]!.GetValue<string>() == name)!.AsObject();
    }

    [Test]
    public void RendersGoldenCaseExactly()
    {
        var golden = GoldenCase("llama-3.2-3b-instruct", "tool_call_roundtrip");
        string folder = Path.GetDirectoryName(SharedAssets.Require("chat-templates", "llama-3.2-3b-instruct", "cases.json"))!;
        var args = new List<string> { "template", "--model", folder, "--messages", WriteFile("m.json", golden["messages"]!.ToJsonString()), "--date", "2025-03-05" };
        if (golden["tools"] is JsonArray tools) args.AddRange(["--tools", WriteFile("t.json", tools.ToJsonString())]);
        if (!golden["add_generation_prompt"]!.GetValue<bool>()) args.Add("--no-generation-prompt");
        var (code, output, error) = Run([.. args]);
        Assert.That(error, Is.Empty);
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output, Is.EqualTo(golden["expected"]!.GetValue<string>()));
    }

    [Test]
    public void JsonOutputHoldsTheText()
    {
        var golden = GoldenCase("qwen2-7b-instruct", "unicode_newlines");
        string folder = Path.GetDirectoryName(SharedAssets.Require("chat-templates", "qwen2-7b-instruct", "cases.json"))!;
        string messages = WriteFile("m.json", new JsonObject { ["messages"] = golden["messages"]!.DeepClone() }.ToJsonString());
        var args = new List<string> { "template", "--model", folder, "--messages", messages, "--json" };
        if (!golden["add_generation_prompt"]!.GetValue<bool>()) args.Add("--no-generation-prompt");
        var (code, output, _) = Run([.. args]);
        Assert.That(code, Is.EqualTo(0));
        Assert.That(JsonNode.Parse(output)!["text"]!.GetValue<string>(), Is.EqualTo(golden["expected"]!.GetValue<string>()));
    }

    [Test]
    public void VarAndDateReachTheTemplate()
    {
        WriteFile("chat_template.jinja", "{{ greeting }} {{ count + 1 }} {{ strftime_now('%Y/%m/%d %b') }}|{{ messages[0].content }}{% if add_generation_prompt %}!{% endif %}");
        string messages = WriteFile("m.json", """[{"role": "user", "content": "hi"}]""");
        var (code, output, error) = Run("template", "--model", _scratch, "--messages", messages,
            "--var", "greeting=\"héllo\"", "--var", "count=41", "--date", "2024-07-26", "--no-generation-prompt");
        Assert.That(error, Is.Empty);
        Assert.That(code, Is.EqualTo(0));
        Assert.That(output, Is.EqualTo("héllo 42 2024/07/26 Jul|hi"));
    }

    [Test]
    public void ChatTemplateFileOverridesTokenizerConfig()
    {
        WriteFile("tokenizer_config.json", """{"bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>", "chat_template": "from config"}""");
        string messages = WriteFile("m.json", "[]");
        Assert.That(Run("template", "--model", _scratch, "--messages", messages).Out, Is.EqualTo("from config"));
        WriteFile("chat_template.jinja", "{{ bos_token }}from file{{ eos_token }}\n");
        Assert.That(Run("template", "--model", _scratch, "--messages", messages).Out, Is.EqualTo("<s>from file</s>"));
    }

    [Test]
    public void RaiseExceptionIsOneLineError()
    {
        string folder = Path.GetDirectoryName(SharedAssets.Require("chat-templates", "llama-2-7b-chat", "cases.json"))!;
        string messages = WriteFile("m.json", """[{"role": "assistant", "content": "first"}]""");
        var (code, output, error) = Run("template", "--model", folder, "--messages", messages);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Is.Empty);
        Assert.That(error, Is.EqualTo("error: chat template error: Conversation roles must alternate user/assistant/user/assistant/...\n".ReplaceLineEndings()));
    }

    [TestCase("m.json", "[{\"role\": ", "is not valid JSON")]
    [TestCase("m.json", "{\"role\": \"user\"}", "must hold a JSON array")]
    [TestCase("m.json", "[1]", "every message must be a JSON object")]
    public void BadMessagesFileIsOneLineError(string name, string text, string expected)
    {
        WriteFile("chat_template.jinja", "x");
        var (code, _, error) = Run("template", "--model", _scratch, "--messages", WriteFile(name, text));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: messages file"));
        Assert.That(error, Does.Contain(expected));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [TestCase("--var", "noequals", "--var expects NAME=JSON")]
    [TestCase("--var", "name=unquoted text", "--var name: value is not valid JSON")]
    [TestCase("--date", "05/03/2025", "--date expects YYYY-MM-DD")]
    [TestCase("--tools", "missing.json", "tools file")]
    public void BadOptionIsOneLineError(string option, string value, string expected)
    {
        WriteFile("chat_template.jinja", "x");
        string messages = WriteFile("m.json", "[]");
        var (code, _, error) = Run("template", "--model", _scratch, "--messages", messages, option, value);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: " + expected));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void FolderWithoutTemplateIsOneLineError()
    {
        string messages = WriteFile("m.json", "[]");
        var (code, _, error) = Run("template", "--model", _scratch, "--messages", messages);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: no chat template in"));
    }

    [Test]
    public void TemplateSyntaxErrorIsOneLineError()
    {
        WriteFile("chat_template.jinja", "line one\n{% if messages %}unterminated");
        var (code, _, error) = Run("template", "--model", _scratch, "--messages", WriteFile("m.json", "[]"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: chat template error: line 2: Unexpected end of template"));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
    }

    [Test]
    public void MissingMessagesFileIsOneLineError()
    {
        WriteFile("chat_template.jinja", "x");
        var (code, _, error) = Run("template", "--model", _scratch, "--messages", Path.Combine(_scratch, "nope.json"));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.StartWith("error: messages file").And.Contain("not found"));
    }
}
