using System.Text.Json.Nodes;
using Engine.Core.Text.Templates;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Text.Templates;

/// <summary>
/// Every golden case of ../shared/assets/chat-templates: rendered text (or raise_exception message) must match
/// Hugging Face's apply_chat_template byte for byte, with strftime_now pinned to 2025-03-05T12:00:00.
/// </summary>
public class ChatTemplateGoldenTests
{
    private static readonly string[] Models =
        ["llama-2-7b-chat", "llama-3-8b-instruct", "llama-3.1-8b-instruct", "llama-3.2-3b-instruct", "qwen2-7b-instruct", "qwen2.5-7b-instruct"];

    public static readonly DateTime GoldenClock = new(2025, 3, 5, 12, 0, 0, DateTimeKind.Unspecified);

    public static IEnumerable<TestCaseData> Cases()
    {
        foreach (string model in Models)
        {
            string? path = SharedAssets.Root is null ? null : Path.Combine(SharedAssets.Root, "chat-templates", model, "cases.json");
            if (path is null || !File.Exists(path))
            {
                yield return new TestCaseData(model, "(assets absent)").SetName($"{model}: assets absent");
                continue;
            }
            foreach (var c in JsonNode.Parse(File.ReadAllText(path))!.AsArray())
            {
                string name = c!["name"]!.GetValue<string>();
                yield return new TestCaseData(model, name).SetName($"{model}: {name}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void RendersLikeHuggingFace(string model, string caseName)
    {
        string folder = SharedAssets.Require("chat-templates", model, "cases.json");
        folder = Path.GetDirectoryName(folder)!;
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "cases.json")))!.AsArray()
            .Single(c => c!["name"]!.GetValue<string>() == caseName)!.AsObject();

        var template = ChatTemplate.Load(folder)!;
        Assert.That(template.Source, Is.EqualTo(File.ReadAllText(Path.Combine(folder, "template.jinja"))));
        var messages = golden["messages"]!.AsArray().Select(m => m!.AsObject()).ToList();
        var tools = golden["tools"] as JsonArray;
        bool addGenerationPrompt = golden["add_generation_prompt"]!.GetValue<bool>();
        var extra = (golden["extra_vars"] as JsonObject)?.ToDictionary(kv => kv.Key, kv => kv.Value);

        if (golden["expected_error"] is { } expectedError)
        {
            var error = Assert.Throws<TemplateError>(() => template.Render(messages, tools, addGenerationPrompt, extra, GoldenClock));
            Assert.That(error!.Detail, Is.EqualTo(expectedError.GetValue<string>()));
            Assert.That(error.Message, Is.EqualTo("chat template error: " + expectedError.GetValue<string>()));
        }
        else
        {
            string rendered = template.Render(messages, tools, addGenerationPrompt, extra, GoldenClock);
            Assert.That(rendered, Is.EqualTo(golden["expected"]!.GetValue<string>()));
        }
    }

    public static IEnumerable<string> ModelFolders() => Models;

    [TestCaseSource(nameof(ModelFolders))]
    public void TokenizerConfigTemplateMatchesTemplateFile(string model)
    {
        string folder = Path.GetDirectoryName(SharedAssets.Require("chat-templates", model, "tokenizer_config.json"))!;
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "tokenizer_config.json")))!.AsObject();
        string fromFile = File.ReadAllText(Path.Combine(folder, "template.jinja"));
        Assert.That(config["chat_template"]!.GetValue<string>(), Is.EqualTo(fromFile));
        // Without chat_template.jinja in the folder, Load reads the template from tokenizer_config.json.
        Assert.That(ChatTemplate.Load(folder)!.Source, Is.EqualTo(fromFile));
        Assert.That(File.Exists(Path.Combine(folder, ChatTemplate.TemplateFileName)), Is.False);
    }
}
