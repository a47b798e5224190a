using System.Text;
using Engine.Core;
using Engine.Core.Hub;
using Engine.Tests.Checkpoints.Gguf;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Hub;

/// <summary>Hub references with a quant tag (<c>org/name:Q4_K_M</c>), as llama.cpp's <c>-hf</c> resolves them: file choice, pull, cache, errors.</summary>
[TestFixture]
public class QuantTagTests
{
    private const string Repo = "test-org/Tiny-GGUF";
    private TempFolder _cache = null!;
    private FakeHub _hub = null!;

    [SetUp]
    public void SetUp()
    {
        _cache = new TempFolder();
        _hub = new FakeHub(Repo);
    }

    [TearDown]
    public void TearDown()
    {
        _hub.Dispose();
        _cache.Dispose();
    }

    private HubEnvironment Environment(bool offline = false) => new(_cache.Path, _hub.Endpoint, null, offline);

    private static ModelReference Parse(string model) =>
        ModelReference.Parse(model, () => throw new AssertionException("the registry is not needed for repo ids"));

    private Task<PullResult> PullAsync(string model, bool offline = false) =>
        new ModelPuller(Environment(offline), new SilentPullProgress()).PullAsync(Parse(model), CancellationToken.None);

    private void AddQuantizations(params string[] names)
    {
        _hub.AddFile("README.md", Encoding.UTF8.GetBytes("# a GGUF repo"));
        _hub.AddFile("mmproj-Tiny-F16.gguf", Encoding.UTF8.GetBytes(new string('p', 900)), lfs: true);
        for (int i = 0; i < names.Length; i++) _hub.AddFile(names[i], Encoding.UTF8.GetBytes(new string((char)('a' + i), 1000 + i)), lfs: true);
    }

    private string Snapshot => new HubCacheLayout(_cache.Path).SnapshotFolder(Repo, _hub.Commit);

    [Test]
    public void ParseTakesTheTagBeforeOrAfterTheRevision()
    {
        Assert.That(Parse("org/x:Q4_K_M") is { RepoId: "org/x", QuantTag: "Q4_K_M", Revision: "main" });
        Assert.That(Parse("org/x:q8_0@dev") is { RepoId: "org/x", QuantTag: "q8_0", Revision: "dev" });
        Assert.That(Parse("org/x@dev:UD-Q4_K_XL") is { RepoId: "org/x", QuantTag: "UD-Q4_K_XL", Revision: "dev" });
        Assert.That(Parse("org/x:Q4_K_M@dev").PullName, Is.EqualTo("org/x:Q4_K_M@dev"));
        Assert.That(Parse("org/x").QuantTag, Is.Null);
        Assert.That(() => Parse("org/x:"), Throws.TypeOf<EngineException>().With.Message.Contains("is not a quant tag"));
        Assert.That(() => Parse("C:\\nowhere\\model"), Throws.TypeOf<EngineException>().With.Message.Contains("no such folder"), "a drive letter is no tag");
        Assert.That(() => ModelReference.Parse("qwen2.5-0.5b:Q4_K_M", () => ModelRegistry.Default),
            Throws.TypeOf<EngineException>().With.Message.Contains("registry name"));
    }

    [Test]
    public void ChoiceFollowsLlamaCppRules()
    {
        string[] files = ["README.md", "mmproj-m-Q4_K_M.gguf", "m-Q8_0.gguf", "m-Q4_K_M.gguf", "m-Q4_K_S.gguf", "m.imatrix.gguf"];
        Assert.That(GgufFileChoice.Pick(files, "q4_k_m", "r"), Is.EqualTo("m-Q4_K_M.gguf"), "case-insensitive, projectors skipped");
        Assert.That(GgufFileChoice.Pick(files, null, "r"), Is.EqualTo("m-Q4_K_M.gguf"), "Q4_K_M by default");
        Assert.That(GgufFileChoice.Pick(["m-Q8_0.gguf", "m-F16.gguf"], null, "r"), Is.EqualTo("m-Q8_0.gguf"), "then Q8_0");
        Assert.That(GgufFileChoice.Pick(["m-F16.gguf", "m-BF16.gguf"], null, "r"), Is.EqualTo("m-F16.gguf"), "then the first model file");
        Assert.That(GgufFileChoice.Pick(files, "Q4_K", "r"), Is.Null, "a tag must end at '.' or '-'");
        Assert.That(GgufFileChoice.Pick(["Q4_K_M/m.Q4_K_M.gguf"], "Q4_K_M", "r"), Is.EqualTo("Q4_K_M/m.Q4_K_M.gguf"));
        Assert.That(GgufFileChoice.AvailableTags(files), Is.EqualTo(new[] { "Q8_0", "Q4_K_M", "Q4_K_S" }));
    }

    [Test]
    public async Task TagPullsOnlyTheMatchingFileWhateverItsCase()
    {
        AddQuantizations("Tiny-Q4_K_M.gguf", "Tiny-Q8_0.gguf", "Tiny-F16.gguf");

        var result = await PullAsync($"{Repo}:q8_0");

        Assert.That(result.Folder, Is.EqualTo(Path.Combine(Snapshot, "Tiny-Q8_0.gguf")));
        Assert.That(File.ReadAllBytes(result.Folder), Is.EqualTo(_hub.Files["Tiny-Q8_0.gguf"]));
        Assert.That(Directory.GetFiles(Snapshot).Select(Path.GetFileName), Is.EqualTo(new[] { "Tiny-Q8_0.gguf" }));
        Assert.That(_hub.Requests.Where(r => r.Method == "GET" && r.Path.Contains("/cdn/")), Has.Exactly(1).Items, "one download");
    }

    [Test]
    public async Task NoTagOnAGgufRepoPicksQ4KM()
    {
        AddQuantizations("Tiny-Q8_0.gguf", "Tiny-Q4_K_M.gguf");
        var result = await PullAsync(Repo);
        Assert.That(Path.GetFileName(result.Folder), Is.EqualTo("Tiny-Q4_K_M.gguf"));
    }

    [Test]
    public void NoMatchIsOneLineListingTheTags()
    {
        AddQuantizations("Tiny-Q4_K_M.gguf", "Tiny-Q8_0.gguf", "Tiny-F16.gguf");
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync($"{Repo}:Q3_K_S"));
        Assert.That(error!.Message, Does.Contain("no GGUF file for quant tag 'Q3_K_S'").And.Contain("available quant tags: Q4_K_M, Q8_0, F16"));
        Assert.That(error.Message, Does.Not.Contain('\n'));
        Assert.That(Directory.Exists(Snapshot), Is.False, "nothing downloaded");
    }

    [Test]
    public void SplitFileIsAClearError()
    {
        AddQuantizations("Tiny-Q8_0-00001-of-00002.gguf", "Tiny-Q8_0-00002-of-00002.gguf");
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync($"{Repo}:Q8_0"));
        Assert.That(error!.Message, Does.Contain("split into 2 files").And.Contain("llama-gguf-split --merge").And.Contain("Tiny-Q8_0-00002-of-00002.gguf"));
    }

    [Test]
    public async Task OfflineResolvesFromTheCacheAndNamesThePullOfAMissingTag()
    {
        AddQuantizations("Tiny-Q4_K_M.gguf", "Tiny-Q8_0.gguf");
        await PullAsync($"{Repo}:Q8_0");
        _hub.Dispose(); // no network from here on

        var resolved = ModelLocator.Resolve($"{Repo}:Q8_0", Environment(offline: true), () => ModelRegistry.Default);
        Assert.That(resolved.Folder, Is.EqualTo(Path.Combine(Snapshot, "Tiny-Q8_0.gguf")));
        Assert.That(ModelLocator.Resolve(Repo, Environment(offline: true), () => ModelRegistry.Default).Folder, Does.EndWith("Tiny-Q8_0.gguf"),
            "without a tag: the default order among the files downloaded");
        Assert.That((await PullAsync($"{Repo}:q8_0", offline: true)).AlreadyPresent, Is.True);

        var error = Assert.Throws<EngineException>(() => ModelLocator.Resolve($"{Repo}:Q4_K_M", Environment(offline: true), () => ModelRegistry.Default));
        Assert.That(error!.Message, Does.Contain("no downloaded GGUF file for quant tag 'Q4_K_M'").And.Contain($"engine pull {Repo}:Q4_K_M"));
        Assert.ThrowsAsync<EngineException>(() => PullAsync($"{Repo}:Q4_K_M", offline: true));
    }

    [Test]
    public void ModelWithAnUncachedTagPullsItsFileOnFirstUse()
    {
        _hub.AddFile("stories260K-Q8_0.gguf", File.ReadAllBytes(GgufAssets.Path("stories260K-q8_0.gguf")), lfs: true);
        _hub.AddFile("stories260K-F32.gguf", File.ReadAllBytes(GgufAssets.Path("stories260K-f32.gguf")), lfs: true);
        using var _ = HubEnvironment.Use(Environment());

        var (code, output, error) = Run("run", "--model", $"{Repo}:Q8_0", "--prompt", "Once", "--max-tokens", "4", "--temperature", "0");
        Assert.That(code, Is.Zero, error);
        Assert.That(error, Does.Contain("stories260K-Q8_0.gguf: downloading"), "the pull reports on stderr");
        Assert.That(output, Is.Not.Empty);
        Assert.That(File.Exists(Path.Combine(Snapshot, "stories260K-Q8_0.gguf")) && !File.Exists(Path.Combine(Snapshot, "stories260K-F32.gguf")),
            "only the tagged file is pulled");
    }

    [Test]
    public void PulledGgufLoadsThroughTheTag()
    {
        _hub.AddFile("stories260K-Q8_0.gguf", File.ReadAllBytes(GgufAssets.Path("stories260K-q8_0.gguf")), lfs: true);
        _hub.AddFile("stories260K-F32.gguf", File.ReadAllBytes(GgufAssets.Path("stories260K-f32.gguf")), lfs: true);
        using var _ = HubEnvironment.Use(Environment());

        var (pullCode, pullOut, pullErr) = Run("pull", $"{Repo}:Q8_0");
        Assert.That(pullCode, Is.Zero, pullErr);
        Assert.That(pullOut, Does.Contain("stories260K-Q8_0.gguf"));

        var (code, output, error) = Run("info", "--model", $"{Repo}:q8_0");
        Assert.That(code, Is.Zero, error);
        Assert.That(output, Does.Contain("Q8_0"));
    }
}
