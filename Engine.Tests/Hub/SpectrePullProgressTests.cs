using Engine.Cli.Progress;
using Spectre.Console;
using NUnit.Framework;

namespace Engine.Tests.Hub;

/// <summary>The terminal progress bars' state, driven on a non-interactive Spectre console (which draws nothing).</summary>
[TestFixture]
public class SpectrePullProgressTests
{
    [Test]
    public async Task BarsEndCompleteForDownloadedAndCachedFiles()
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 160;
        ProgressTask[] tasks = [];

        await console.Progress().Columns(SpectrePullProgress.Columns).StartAsync(context =>
        {
            var progress = new SpectrePullProgress(context);
            progress.FileCached("config.json");
            progress.FileStarted("model.safetensors", 3_000_000, resumedFrom: 1_000_000);
            for (int i = 0; i < 4; i++) progress.BytesReceived("model.safetensors", 500_000);
            progress.FileFinished("model.safetensors", 3_000_000);
            progress.FileStarted("tokenizer.json", null, 0);
            progress.BytesReceived("tokenizer.json", 4096);
            progress.FileFinished("tokenizer.json", 4096);
            tasks = progress.Tasks.ToArray();
            return Task.CompletedTask;
        });

        Assert.That(tasks.Select(t => t.Description), Is.EqualTo(new[] { "config.json [grey](cached)[/]", "model.safetensors", "tokenizer.json" }));
        Assert.That(tasks.Select(t => t.IsFinished), Has.All.True);
        Assert.That(tasks[1].Value, Is.EqualTo(3_000_000));
        Assert.That(tasks[2].MaxValue, Is.EqualTo(4096), "an unknown size grows with the bytes and ends at the true size");
    }
}
