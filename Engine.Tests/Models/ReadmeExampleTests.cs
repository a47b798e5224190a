using Engine.Core.Text.Templates;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Models;

/// <summary>The README's library example, run as written (on stories260K, which has a tokenizer but no chat template).</summary>
public sealed class ReadmeExampleTests
{
    [Test]
    public async Task StreamsTextAndReportsStatistics()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        using var engine = InferenceEngine.Load(folder, new EngineOptions { Device = "cpu" });
        var options = engine.DefaultOptions() with { MaxTokens = 40 };
        var completion = engine.Generate("Once upon a time", options);
        var text = new System.Text.StringBuilder();
        await foreach (var token in completion.StreamAsync(CancellationToken.None))
            text.Append(token.Text);

        Assert.That(text.ToString(), Does.StartWith(", there was a little girl named Lily"));
        Assert.That(completion.Stats.GeneratedTokens, Is.EqualTo(40));
        Assert.That(completion.Stats.DecodeTokensPerSecond, Is.GreaterThan(0));
    }

    [Test]
    public void ChatWithoutATemplateIsAOneLineError()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        using var engine = InferenceEngine.Load(folder, new EngineOptions { Device = "cpu" });
        var error = Assert.Throws<Engine.Core.EngineException>(() =>
            engine.Chat([new ChatMessage("system", "You are terse."), new ChatMessage("user", "Hi")], engine.DefaultOptions()));
        Assert.That(error!.Message, Does.Not.Contain("\n"));
    }
}
