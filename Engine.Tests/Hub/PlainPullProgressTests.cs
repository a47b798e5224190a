using Engine.Cli.Progress;
using NUnit.Framework;

namespace Engine.Tests.Hub;

/// <summary>The plain (non-terminal) pull log: one line per file, plus a line per tenth of a large file.</summary>
[TestFixture]
public class PlainPullProgressTests
{
    [Test]
    public void LargeFileReportsEachTenthOnce()
    {
        var output = new StringWriter();
        var progress = new PlainPullProgress(output);
        const long total = 100_000_000;
        progress.FileStarted("model.safetensors", total, resumedFrom: 25_000_000);
        for (int i = 0; i < 75; i++) progress.BytesReceived("model.safetensors", 1_000_000);
        progress.FileFinished("model.safetensors", total);

        string[] lines = output.ToString().TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.That(lines[0], Does.Contain("resuming at 25.0 MB"));
        Assert.That(lines.Skip(1).SkipLast(1).Select(l => l.Split(' ')[1]), Is.EqualTo(new[] { "30%", "40%", "50%", "60%", "70%", "80%", "90%" }));
        Assert.That(lines[^1], Does.StartWith("model.safetensors: done, 100.0 MB verified (75.0 MB in"));
    }

    [Test]
    public void SmallFileGetsOnlyStartAndEndLines()
    {
        var output = new StringWriter();
        var progress = new PlainPullProgress(output);
        progress.FileStarted("config.json", 700, 0);
        progress.BytesReceived("config.json", 700);
        progress.FileFinished("config.json", 700);
        progress.FileCached("tokenizer.json");
        Assert.That(output.ToString().TrimEnd().Split('\n'), Has.Length.EqualTo(3));
        Assert.That(output.ToString(), Does.Contain("tokenizer.json: already in the cache"));
    }
}
