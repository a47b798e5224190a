using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Core.Text.Templates;
using NUnit.Framework;

namespace Engine.Tests.Text.Templates;

/// <summary>Finding a model folder's template: chat_template.jinja, tokenizer_config.json (string or named list), tokens.</summary>
public class ChatTemplateLoadTests
{
    private string _folder = "";

    [SetUp]
    public void CreateFolder()
    {
        _folder = Path.Combine(Path.GetTempPath(), "engine-chat-template-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_folder);
    }

    [TearDown]
    public void DeleteFolder() => Directory.Delete(_folder, recursive: true);

    private void Write(string name, string text) => File.WriteAllText(Path.Combine(_folder, name), text);

    [Test]
    public void FolderWithoutTemplateGivesNull()
    {
        Assert.That(ChatTemplate.Load(_folder), Is.Null);
        Write("tokenizer_config.json", """{"bos_token": "<s>"}""");
        Assert.That(ChatTemplate.Load(_folder), Is.Null);
        var e = Assert.Throws<EngineException>(() => ChatTemplate.LoadRequired(_folder));
        Assert.That(e!.Message, Does.StartWith("no chat template in"));
    }

    [Test]
    public void NamedTemplateListUsesDefault()
    {
        Write("tokenizer_config.json", """{"eos_token": {"content": "</s>"}, "chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "plain{{ eos_token }}"}]}""");
        Assert.That(ChatTemplate.Load(_folder)!.Render([], null, true, null, DateTime.Now), Is.EqualTo("plain</s>"));
    }

    [Test]
    public void NamedTemplateListWithoutDefaultIsAnError()
    {
        Write("tokenizer_config.json", """{"chat_template": [{"name": "tool_use", "template": "tools"}]}""");
        var e = Assert.Throws<EngineException>(() => ChatTemplate.Load(_folder));
        Assert.That(e!.Message, Does.Contain("no \"default\""));
    }

    [Test]
    public void BadTokenizerConfigIsOneLineError()
    {
        Write("tokenizer_config.json", "{\"chat_template\": ");
        var e = Assert.Throws<EngineException>(() => ChatTemplate.Load(_folder));
        Assert.That(e!.Message, Does.Contain("is not valid JSON").And.Not.Contain("\n"));
    }

    [Test]
    public void TemplateFileWinsOverConfigAndKeepsConfigTokens()
    {
        Write("tokenizer_config.json", """{"bos_token": "<s>", "pad_token": null, "chat_template": "config"}""");
        Write("chat_template.jinja", "{{ bos_token }}file{{ pad_token is defined }}");
        var template = ChatTemplate.Load(_folder)!;
        Assert.That(template.Render([], null, true, null, DateTime.Now), Is.EqualTo("<s>fileFalse"));
        Assert.That(template.SpecialTokens.Keys, Is.EquivalentTo(new[] { "bos_token" }));
    }

    [Test]
    public void MissingFolderIsAnError() =>
        Assert.Throws<EngineException>(() => ChatTemplate.Load(Path.Combine(_folder, "absent")));

    [Test]
    public void RenderingTwiceGivesTheSameText()
    {
        Write("chat_template.jinja", "{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
        var template = ChatTemplate.Load(_folder)!;
        var messages = new List<JsonObject> { new ChatMessage("user", "a"), new ChatMessage("assistant", "b") };
        Assert.That(template.Render(messages, null, true, null, DateTime.Now), Is.EqualTo("2"));
        Assert.That(template.Render(messages, null, true, null, DateTime.Now), Is.EqualTo("2"));
    }
}
