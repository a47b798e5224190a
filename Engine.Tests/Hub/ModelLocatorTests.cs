using System.Text;
using Engine.Core;
using Engine.Core.Hub;
using NUnit.Framework;

namespace Engine.Tests.Hub;

/// <summary>`--model` resolution: folders, registry names and repo ids read in place from a huggingface_hub cache.</summary>
[TestFixture]
public class ModelLocatorTests
{
    private const string Repo = "Qwen/Qwen2.5-0.5B-Instruct";
    private TempFolder _cache = null!;
    private HubCacheFixture _fixture = null!;

    [SetUp]
    public void SetUp()
    {
        _cache = new TempFolder();
        _fixture = new HubCacheFixture(_cache.Path);
    }

    [TearDown]
    public void TearDown() => _cache.Dispose();

    private HubEnvironment Environment => new(_cache.Path, "http://127.0.0.1:9", null, false);

    private static ModelRegistry Registry => ModelRegistry.Default;

    private ResolvedModel Resolve(string model) => ModelLocator.Resolve(model, Environment, () => Registry);

    [Test]
    public void RegistryNameResolvesThroughTheRefToTheSnapshot()
    {
        string commit = _fixture.AddCompleteModel(Repo);
        var resolved = Resolve("qwen2.5-0.5b");
        Assert.That(resolved.Folder, Is.EqualTo(_fixture.Layout.SnapshotFolder(Repo, commit)));
        Assert.That(resolved.Commit, Is.EqualTo(commit));
        Assert.That(resolved.Entry?.Name, Is.EqualTo("qwen2.5-0.5b"));
        Assert.That(File.ReadAllText(Path.Combine(resolved.Folder, "config.json")), Does.Contain("qwen2"), "read through the blob symlink");
    }

    [Test]
    public void RepoIdResolvesWithoutTheRegistry()
    {
        string commit = _fixture.AddCompleteModel("some-org/Some-Model");
        var resolved = ModelLocator.Resolve("some-org/Some-Model", Environment, () => throw new AssertionException("registry not needed"));
        Assert.That(resolved.Folder, Is.EqualTo(_fixture.Layout.SnapshotFolder("some-org/Some-Model", commit)));
        Assert.That(resolved.Entry, Is.Null);
    }

    [Test]
    public void RevisionAfterAtPicksThatRef()
    {
        _fixture.AddCompleteModel(Repo, "main");
        string v2 = _fixture.AddCompleteModel(Repo, "v2");
        Assert.That(Resolve(Repo + "@v2").Commit, Is.EqualTo(v2));
        Assert.That(Resolve("qwen2.5-0.5b@v2").Commit, Is.EqualTo(v2));
    }

    [Test]
    public void CommitHashRevisionResolvesToItsSnapshotWithoutARef()
    {
        string commit = HubCacheFixture.NewCommit();
        _fixture.AddFile(Repo, commit, "config.json", "{}"u8.ToArray());
        _fixture.AddFile(Repo, commit, "model.safetensors", [1, 2, 3]);
        var resolved = Resolve($"{Repo}@{commit}");
        Assert.That(resolved.Folder, Is.EqualTo(_fixture.Layout.SnapshotFolder(Repo, commit)));
        Assert.That(Directory.Exists(Path.Combine(_fixture.Layout.RepoFolder(Repo), "refs")), Is.False);
    }

    [Test]
    public void ShardedSnapshotIsCompleteOnlyWithEveryShard()
    {
        string commit = HubCacheFixture.NewCommit();
        _fixture.AddFile(Repo, commit, "config.json", "{}"u8.ToArray());
        _fixture.AddFile(Repo, commit, "model.safetensors.index.json", Encoding.UTF8.GetBytes(
            "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00002-of-00002.safetensors\"}}"));
        _fixture.AddFile(Repo, commit, "model-00001-of-00002.safetensors", [1]);
        _fixture.AddRef(Repo, "main", commit);
        var error = Assert.Throws<EngineException>(() => Resolve("qwen2.5-0.5b"));
        Assert.That(error!.Message, Does.Contain("partly downloaded"));

        _fixture.AddFile(Repo, commit, "model-00002-of-00002.safetensors", [2]);
        Assert.That(Resolve("qwen2.5-0.5b").Commit, Is.EqualTo(commit));
    }

    [Test]
    public void SnapshotWithoutConfigCountsAsAbsent()
    {
        string commit = HubCacheFixture.NewCommit();
        _fixture.AddFile(Repo, commit, "model.safetensors", [1, 2, 3]);
        _fixture.AddRef(Repo, "main", commit);
        Assert.Throws<EngineException>(() => Resolve("qwen2.5-0.5b"));
    }

    [Test]
    public void DanglingSymlinkCountsAsAbsent()
    {
        string commit = _fixture.AddCompleteModel(Repo);
        foreach (string blob in Directory.GetFiles(_fixture.Layout.BlobsFolder(Repo))) File.Delete(blob);
        Assert.That(new FileInfo(Path.Combine(_fixture.Layout.SnapshotFolder(Repo, commit), "config.json")).LinkTarget, Is.Not.Null, "the link itself remains");
        Assert.That(SnapshotInspector.IsComplete(_fixture.Layout.SnapshotFolder(Repo, commit)), Is.False);
        Assert.Throws<EngineException>(() => Resolve("qwen2.5-0.5b"));
    }

    [Test]
    public void MissingModelSaysWhereItLookedAndHowToPullIt()
    {
        var error = Assert.Throws<EngineException>(() => Resolve("qwen2.5-0.5b"));
        Assert.That(error!.Message, Does.Contain(_fixture.Layout.RepoFolder(Repo)));
        Assert.That(error.Message, Does.Contain("engine pull qwen2.5-0.5b"));
        Assert.That(error.Message, Does.Contain("not downloaded"));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void MissingRepoIdWithRevisionSuggestsPullingThatRevision()
    {
        var error = Assert.Throws<EngineException>(() => Resolve("some-org/Some-Model@dev"));
        Assert.That(error!.Message, Does.Contain("engine pull some-org/Some-Model@dev"));
    }

    [Test]
    public void LocalFolderIsUsedAsIs()
    {
        string folder = _cache.Combine("my-model");
        Directory.CreateDirectory(folder);
        Assert.That(ModelLocator.ResolveFolder(folder), Is.EqualTo(Path.GetFullPath(folder)));
    }

    [Test]
    public void UnknownNameIsAClearError()
    {
        var error = Assert.Throws<EngineException>(() => Resolve("no-such-model"));
        Assert.That(error!.Message, Does.Contain("'no-such-model' not found").And.Contain("engine models"));
    }

    [Test]
    public void MissingPathIsReportedAsAFolder()
    {
        var error = Assert.Throws<EngineException>(() => Resolve("./no/such/folder"));
        Assert.That(error!.Message, Does.Contain("no such folder"));
    }
}
