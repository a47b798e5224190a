using System.Text;
using System.Text.Json;
using Engine.Cli;
using Engine.Core.Hub;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Hub;

/// <summary>`engine models` and `engine pull` run in-process, with the hub environment injected (no process variables touched).</summary>
[TestFixture]
public class HubCommandTests
{
    private TempFolder _cache = null!;

    [SetUp]
    public void SetUp() => _cache = new TempFolder();

    [TearDown]
    public void TearDown() => _cache.Dispose();

    [Test]
    public void ModelsJsonMarksCachedModelsPresent()
    {
        string commit = new HubCacheFixture(_cache.Path).AddCompleteModel("Qwen/Qwen2.5-0.5B-Instruct");
        using var _ = HubEnvironment.Use(new HubEnvironment(_cache.Path, "http://127.0.0.1:9", null, true));

        var (code, output, _) = Run("models", "--json");

        Assert.That(code, Is.Zero);
        var models = JsonDocument.Parse(output).RootElement.EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.That(models.Keys, Is.SupersetOf(new[] { "qwen2-7b", "qwen2.5-7b", "qwen2.5-1.5b", "qwen2.5-0.5b", "llama-3.1-8b", "llama-3.2-1b" }));
        Assert.That(models["qwen2.5-0.5b"].GetProperty("present").GetBoolean(), Is.True);
        Assert.That(models["qwen2.5-0.5b"].GetProperty("path").GetString(), Does.EndWith(commit));
        Assert.That(models["llama-3.2-1b"].GetProperty("present").GetBoolean(), Is.False);
        Assert.That(models["llama-3.1-8b"].GetProperty("lagkv").GetProperty("lag_size").GetInt32(), Is.GreaterThan(0));
    }

    [Test]
    public void ModelsTableListsEveryEntry()
    {
        using var _ = HubEnvironment.Use(new HubEnvironment(_cache.Path, "http://127.0.0.1:9", null, true));
        var (code, output, _) = Run("models");
        Assert.That(code, Is.Zero);
        foreach (var entry in ModelRegistry.Default.Entries)
            Assert.That(output, Does.Contain(entry.Name).And.Contain(entry.Repo).And.Contain(entry.LagKv.ToString()));
        Assert.That(output, Does.Contain(_cache.Path));
    }

    [Test]
    public void PullPrintsPlainLinesAndThenReportsPresence()
    {
        using var hub = new FakeHub("org/cli-model");
        hub.AddFile("config.json", Encoding.UTF8.GetBytes("{}"));
        hub.AddFile("model.safetensors", Encoding.UTF8.GetBytes(new string('w', 5000)), lfs: true);
        using var _ = HubEnvironment.Use(new HubEnvironment(_cache.Path, hub.Endpoint, null, false));

        var (code, output, error) = Run("pull", "org/cli-model");

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("model.safetensors: done").And.Contain("pulled org/cli-model"));
        var again = Run("pull", "org/cli-model");
        Assert.That(again.Out, Does.Contain("already present"));
    }

    /// <summary>A real model pulled from the fake hub is then usable by repo id from other commands.</summary>
    [Test]
    public void PulledModelIsUsableByRepoId()
    {
        string source = SharedAssets.Require("models", "stories260K");
        using var hub = new FakeHub("karpathy/stories260K");
        foreach (string name in new[] { "config.json", "generation_config.json", "tokenizer.json", "model.safetensors" })
            hub.AddFile(name, File.ReadAllBytes(Path.Combine(source, name)), lfs: name.EndsWith(".safetensors"));
        hub.AddFile("expected_greedy_200.txt", File.ReadAllBytes(Path.Combine(source, "expected_greedy_200.txt")));
        using var _ = HubEnvironment.Use(new HubEnvironment(_cache.Path, hub.Endpoint, null, false));

        Assert.That(Run("pull", "karpathy/stories260K").Code, Is.Zero);
        var (code, output, error) = Run("info", "--model", "karpathy/stories260K");

        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("260,032").And.Contain(HubCacheLayout.RepoFolderName("karpathy/stories260K")));
        Assert.That(Directory.GetFiles(new HubCacheLayout(_cache.Path).SnapshotFolder("karpathy/stories260K", hub.Commit)).Select(Path.GetFileName),
            Has.None.EqualTo("expected_greedy_200.txt"));
    }

    [Test]
    public void PullOfAMissingRepoIsOneErrorLine()
    {
        using var hub = new FakeHub("org/cli-model");
        using var _ = HubEnvironment.Use(new HubEnvironment(_cache.Path, hub.Endpoint, null, false));

        var (code, _, error) = Run("pull", "org/absent");

        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.StartWith("error: ").And.Contain("404"));
    }

    [Test]
    public void PullAtACommitRevisionWritesNoRef()
    {
        using var hub = new FakeHub("org/cli-model");
        hub.AddFile("config.json", Encoding.UTF8.GetBytes("{}"));
        hub.AddFile("model.safetensors", Encoding.UTF8.GetBytes(new string('w', 300)), lfs: true);
        using var _ = HubEnvironment.Use(new HubEnvironment(_cache.Path, hub.Endpoint, null, false));

        var (code, _, error) = Run("pull", "org/cli-model", "--revision", hub.Commit);

        Assert.That(code, Is.Zero, error);
        var layout = new HubCacheLayout(_cache.Path);
        Assert.That(SnapshotInspector.IsComplete(layout.SnapshotFolder("org/cli-model", hub.Commit)), Is.True);
        Assert.That(Directory.Exists(Path.Combine(layout.RepoFolder("org/cli-model"), "refs")), Is.False);
        Assert.That(Run("pull", "org/cli-model@main", "--revision", "main").Err, Does.Contain("not both"));
    }

    [Test]
    public void PullOfAFolderIsRefused()
    {
        using var _ = HubEnvironment.Use(new HubEnvironment(_cache.Path, "http://127.0.0.1:9", null, false));
        var (code, _, error) = Run("pull", _cache.Path);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error, Does.Contain("local folder"));
    }
}
