using System.Text;
using Engine.Core;
using Engine.Core.Hub;
using NUnit.Framework;

namespace Engine.Tests.Hub;

/// <summary>`engine pull`'s downloader against <see cref="FakeHub"/>: layout, resume, integrity, errors, offline, token.</summary>
[TestFixture]
public class PullTests
{
    private const string Repo = "test-org/Tiny-Model";
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

    private HubEnvironment Environment(string? token = null, bool offline = false) => new(_cache.Path, _hub.Endpoint, token, offline);

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private void AddSingleFileModel()
    {
        _hub.AddFile("config.json", Encoding.UTF8.GetBytes("{\"model_type\": \"llama\", \"hidden_size\": 64}"));
        _hub.AddFile("generation_config.json", Encoding.UTF8.GetBytes("{\"eos_token_id\": 2}"));
        _hub.AddFile("tokenizer.json", RandomBytes(5000, 1));
        _hub.AddFile("tokenizer.model", RandomBytes(700, 2), lfs: true);
        _hub.AddFile("README.md", Encoding.UTF8.GetBytes("# not needed"));
        _hub.AddFile("pytorch_model.bin", RandomBytes(3000, 3), lfs: true);
        _hub.AddFile("model.safetensors", RandomBytes(3_000_000, 4), lfs: true);
    }

    private void AddShardedModel()
    {
        _hub.AddFile("config.json", Encoding.UTF8.GetBytes("{\"model_type\": \"qwen2\"}"));
        _hub.AddFile("tokenizer_config.json", Encoding.UTF8.GetBytes("{\"model_max_length\": 32768}"));
        _hub.AddFile("model-00001-of-00002.safetensors", RandomBytes(400_000, 5), lfs: true);
        _hub.AddFile("model-00002-of-00002.safetensors", RandomBytes(300_000, 6), lfs: true);
        _hub.AddFile("model.safetensors.index.json", Encoding.UTF8.GetBytes(
            "{\"metadata\": {\"total_size\": 700000}, \"weight_map\": {\"a.weight\": \"model-00001-of-00002.safetensors\"," +
            " \"b.weight\": \"model-00002-of-00002.safetensors\", \"c.weight\": \"model-00001-of-00002.safetensors\"}}"));
    }

    private Task<PullResult> PullAsync(HubEnvironment environment, string model = Repo, TimeSpan? silenceTimeout = null) =>
        new ModelPuller(environment, new SilentPullProgress(), silenceTimeout).PullAsync(
            ModelReference.Parse(model, () => throw new AssertionException("the registry is not needed for repo ids")), CancellationToken.None);

    private string RepoFolder => new HubCacheLayout(_cache.Path).RepoFolder(Repo);
    private string Snapshot => Path.Combine(RepoFolder, "snapshots", _hub.Commit);

    [Test]
    public async Task FreshDownloadLaysOutTheCacheExactlyAsHuggingFaceHub()
    {
        AddSingleFileModel();
        var result = await PullAsync(Environment());

        Assert.That(result.Folder, Is.EqualTo(Snapshot));
        Assert.That(result.AlreadyPresent, Is.False);
        Assert.That(File.ReadAllText(Path.Combine(RepoFolder, "refs", "main")), Is.EqualTo(_hub.Commit));
        string[] expected = ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json"];
        Assert.That(Directory.GetFiles(Snapshot).Select(Path.GetFileName).Order(), Is.EqualTo(expected));
        foreach (string file in expected)
        {
            string link = Path.Combine(Snapshot, file);
            Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo($"../../blobs/{_hub.EtagOf(file)}"), file);
            Assert.That(File.ReadAllBytes(link), Is.EqualTo(_hub.Files[file]), file);
        }
        // Blobs are named by ETag: sha256 for LFS files, the git blob sha1 for the others; nothing else is left there.
        Assert.That(Directory.GetFiles(Path.Combine(RepoFolder, "blobs")).Select(Path.GetFileName).Order(),
            Is.EqualTo(expected.Select(_hub.EtagOf).Order()));
        Assert.That(_hub.EtagOf("model.safetensors"), Has.Length.EqualTo(64));
        Assert.That(_hub.EtagOf("config.json"), Has.Length.EqualTo(40));
        // tokenizer.model is skipped because tokenizer.json exists; unneeded files are never requested.
        Assert.That(_hub.Requests.Select(r => r.Path), Has.None.Contains("tokenizer.model").And.None.Contains("README").And.None.Contains("pytorch_model"));

        var resolved = ModelLocator.Resolve(Repo, Environment(), () => throw new AssertionException("no registry needed"));
        Assert.That(resolved.Folder, Is.EqualTo(Snapshot));
        Assert.That(resolved.Commit, Is.EqualTo(_hub.Commit));
    }

    [Test]
    public async Task ShardedModelDownloadsTheIndexAndEveryShardItNames()
    {
        AddShardedModel();
        var result = await PullAsync(Environment());

        Assert.That(result.FilesDownloaded, Is.EqualTo(5));
        foreach (string file in _hub.Files.Keys)
            Assert.That(File.ReadAllBytes(Path.Combine(Snapshot, file)), Is.EqualTo(_hub.Files[file]), file);
        Assert.That(SnapshotInspector.IsComplete(Snapshot), Is.True);
    }

    [Test]
    public async Task RenamedRepoIsFollowedAndStoredUnderTheRequestedName()
    {
        AddSingleFileModel();
        _hub.RenamedFrom.Add("old-org/Old-Name");

        var result = await PullAsync(Environment(), "old-org/Old-Name");

        Assert.That(result.Folder, Is.EqualTo(new HubCacheLayout(_cache.Path).SnapshotFolder("old-org/Old-Name", _hub.Commit)));
        Assert.That(File.ReadAllBytes(Path.Combine(result.Folder, "model.safetensors")), Is.EqualTo(_hub.Files["model.safetensors"]));
        Assert.That(_hub.Requests.Any(r => r.Method == "HEAD" && r.Path.StartsWith("/old-org/Old-Name/resolve/")), Is.True);
    }

    [Test]
    public async Task TokenizerModelIsTakenWhenThereIsNoTokenizerJson()
    {
        AddSingleFileModel();
        _hub.Files.Remove("tokenizer.json");
        await PullAsync(Environment());
        Assert.That(File.ReadAllBytes(Path.Combine(Snapshot, "tokenizer.model")), Is.EqualTo(_hub.Files["tokenizer.model"]));
    }

    [Test]
    public async Task InterruptedDownloadResumesWithARangeRequest()
    {
        AddSingleFileModel();
        _hub.CutOnce = ("model.safetensors", 1_200_000);
        string etag = _hub.EtagOf("model.safetensors");

        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));
        Assert.That(error!.Message, Does.Contain("interrupted").And.Contain("resume"));
        string partial = Path.Combine(RepoFolder, "blobs", etag + ".incomplete");
        long kept = new FileInfo(partial).Length;
        Assert.That(kept, Is.GreaterThan(0).And.LessThan(_hub.Files["model.safetensors"].Length));
        Assert.That(File.Exists(Path.Combine(RepoFolder, "refs", "main")), Is.False);
        Assert.That(SnapshotInspector.IsComplete(Snapshot), Is.False);

        var result = await PullAsync(Environment());

        Assert.That(_hub.Requests.Any(r => r.Method == "GET" && r.Path == "/cdn/model.safetensors" && r.Range == $"bytes={kept}-"), Is.True,
            "the second pull continues the partial blob with a Range request");
        Assert.That(File.ReadAllBytes(Path.Combine(result.Folder, "model.safetensors")), Is.EqualTo(_hub.Files["model.safetensors"]));
        Assert.That(File.Exists(partial), Is.False);
        Assert.That(result.BytesDownloaded, Is.EqualTo(_hub.Files["model.safetensors"].Length - kept));
    }

    [Test]
    public async Task ServerIgnoringRangeRestartsTheFileFromZero()
    {
        AddSingleFileModel();
        _hub.CutOnce = ("model.safetensors", 1_000_000);
        Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));
        _hub.IgnoreRange = true;

        var result = await PullAsync(Environment());

        Assert.That(_hub.Requests.Any(r => r.Path == "/cdn/model.safetensors" && r.Range is not null), Is.True);
        Assert.That(File.ReadAllBytes(Path.Combine(result.Folder, "model.safetensors")), Is.EqualTo(_hub.Files["model.safetensors"]));
    }

    [Test]
    public void TooLittleDiskSpaceIsReportedBeforeDownloading()
    {
        AddSingleFileModel();
        _hub.AnnouncedSizes["model.safetensors"] = 1L << 60;

        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));

        Assert.That(error!.Message, Does.Contain("not enough disk space"));
        Assert.That(_hub.Requests.Where(r => r.Method == "GET").Select(r => r.Path), Has.None.StartsWith("/cdn/"));
    }

    [Test]
    public void SizeDifferentFromTheAnnouncedOneIsRejected()
    {
        AddSingleFileModel();
        _hub.AnnouncedSizes["tokenizer.model"] = 1;
        _hub.Files.Remove("tokenizer.json");
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));
        Assert.That(error!.Message, Does.Contain("tokenizer.model"));
        Assert.That(File.Exists(Path.Combine(RepoFolder, "refs", "main")), Is.False);
    }

    [Test]
    public void ChecksumMismatchIsRejectedAndNothingLooksComplete()
    {
        AddSingleFileModel();
        _hub.TamperedFiles.Add("model.safetensors");

        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));

        Assert.That(error!.Message, Does.Contain("checksum mismatch").And.Contain("model.safetensors"));
        Assert.That(File.Exists(Path.Combine(RepoFolder, "refs", "main")), Is.False);
        Assert.That(File.Exists(Path.Combine(Snapshot, "config.json")) && File.Exists(Path.Combine(Snapshot, "model.safetensors")), Is.False);
        Assert.That(SnapshotInspector.IsComplete(Snapshot), Is.False);
        string blobs = Path.Combine(RepoFolder, "blobs");
        Assert.That(Directory.GetFiles(blobs).Select(Path.GetFileName), Has.None.StartsWith(_hub.EtagOf("model.safetensors")));
        Assert.Throws<EngineException>(() => ModelLocator.Resolve(Repo, Environment(), () => throw new AssertionException("no registry needed")));
    }

    [Test]
    public void SmallFileWithAWrongGitSha1IsRejected()
    {
        AddSingleFileModel();
        _hub.TamperedFiles.Add("tokenizer.json");
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));
        Assert.That(error!.Message, Does.Contain("checksum mismatch").And.Contain("tokenizer.json").And.Contain("git sha1"));
        Assert.That(File.Exists(Path.Combine(RepoFolder, "refs", "main")), Is.False);
    }

    [Test]
    public void MissingRepoIsA404Error()
    {
        AddSingleFileModel();
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment(), "test-org/Other-Model"));
        Assert.That(error!.Message, Does.Contain("not found").And.Contain("404").And.Contain("test-org/Other-Model"));
        Assert.That(Directory.Exists(new HubCacheLayout(_cache.Path).RepoFolder("test-org/Other-Model") + "/snapshots"), Is.False);
    }

    [Test]
    public void MissingRevisionIsA404Error()
    {
        AddSingleFileModel();
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment(), Repo + "@no-such-branch"));
        Assert.That(error!.Message, Does.Contain("revision 'no-such-branch' not found").And.Contain("404"));
    }

    [Test]
    public void IndexNamingAShardTheRepoLacksIsAnError()
    {
        AddShardedModel();
        _hub.Files.Remove("model-00002-of-00002.safetensors");
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));
        Assert.That(error!.Message, Does.Contain("model-00002-of-00002.safetensors"));
        Assert.That(SnapshotInspector.IsComplete(Snapshot), Is.False);
    }

    [Test]
    public void OfflineModeWithoutACachedCopyFailsWithoutTouchingTheNetwork()
    {
        AddSingleFileModel();
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment(offline: true)));
        Assert.That(error!.Message, Does.Contain("HF_HUB_OFFLINE").And.Contain("not in the cache"));
        Assert.That(_hub.Requests, Is.Empty);
    }

    [Test]
    public async Task OfflineModeWithACachedCopyReportsItPresent()
    {
        AddSingleFileModel();
        await PullAsync(Environment());
        int requests = _hub.Requests.Count;

        var result = await PullAsync(Environment(offline: true));

        Assert.That(result.AlreadyPresent, Is.True);
        Assert.That(result.Folder, Is.EqualTo(Snapshot));
        Assert.That(_hub.Requests.Count, Is.EqualTo(requests));
    }

    [Test]
    public async Task SecondPullDownloadsNothing()
    {
        AddSingleFileModel();
        await PullAsync(Environment());
        int requests = _hub.Requests.Count;

        var result = await PullAsync(Environment());

        Assert.That(result.AlreadyPresent, Is.True);
        Assert.That(result.FilesDownloaded, Is.Zero);
        Assert.That(_hub.Requests.Skip(requests).Select(r => r.Path), Has.All.StartsWith("/api/"));
    }

    [Test]
    public async Task TokenIsSentAsABearerHeader()
    {
        AddSingleFileModel();
        _hub.RequiredToken = "hf_secret_test_token";
        await PullAsync(Environment(token: "hf_secret_test_token"));
        var hubRequests = _hub.Requests.Where(r => !r.Path.StartsWith("/cdn/")).ToList();
        var cdnRequests = _hub.Requests.Where(r => r.Path.StartsWith("/cdn/")).ToList();
        Assert.That(hubRequests, Is.Not.Empty);
        Assert.That(hubRequests.Select(r => r.Authorization), Has.All.EqualTo("Bearer hf_secret_test_token"));
        Assert.That(cdnRequests, Is.Not.Empty);
        Assert.That(cdnRequests.Select(r => r.Authorization), Has.All.Null, "the token is not sent to another host");
    }

    [Test]
    public void GatedRepoWithoutATokenMentionsHfToken()
    {
        AddSingleFileModel();
        _hub.RequiredToken = "hf_secret_test_token";
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment()));
        Assert.That(error!.Message, Does.Contain("gated").And.Contain("HF_TOKEN").And.Contain("401"));
    }

    [Test]
    public void SilentHubFailsInsteadOfHanging()
    {
        AddSingleFileModel();
        _hub.SilentApi = true;
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment(), silenceTimeout: TimeSpan.FromSeconds(1)));
        Assert.That(error!.Message, Does.Contain("did not answer within 1 s"));
    }

    [Test]
    public async Task StalledDownloadFailsAndThenResumes()
    {
        AddSingleFileModel();
        _hub.StallOnce = ("model.safetensors", 500_000);

        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(Environment(), silenceTimeout: TimeSpan.FromSeconds(1)));
        Assert.That(error!.Message, Does.Contain("interrupted").And.Contain("no data for 1 s"));

        var result = await PullAsync(Environment());
        Assert.That(_hub.Requests.Any(r => r.Path == "/cdn/model.safetensors" && r.Range == "bytes=500000-"), Is.True);
        Assert.That(File.ReadAllBytes(Path.Combine(result.Folder, "model.safetensors")), Is.EqualTo(_hub.Files["model.safetensors"]));
    }

    [Test]
    public void UnreachableEndpointIsOneLineError()
    {
        AddSingleFileModel();
        string endpoint = _hub.Endpoint;
        _hub.Dispose();
        var error = Assert.ThrowsAsync<EngineException>(() => PullAsync(new HubEnvironment(_cache.Path, endpoint, null, false)));
        Assert.That(error!.Message, Does.StartWith($"cannot reach {endpoint}"));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }
}
