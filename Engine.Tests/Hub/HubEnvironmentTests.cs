using Engine.Core.Hub;
using NUnit.Framework;

namespace Engine.Tests.Hub;

/// <summary>Where the cache, endpoint, token and offline flag come from: huggingface_hub's precedence, through an injected lookup.</summary>
[TestFixture]
public class HubEnvironmentTests
{
    private static HubEnvironment From(params (string Name, string Value)[] variables)
    {
        var map = variables.ToDictionary(v => v.Name, v => v.Value);
        return HubEnvironment.FromVariables(name => map.GetValueOrDefault(name));
    }

    private static string Home => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    [Test]
    public void HubCacheWinsOverHfHome() =>
        Assert.That(From(("HF_HUB_CACHE", "/data/hub-cache"), ("HF_HOME", "/data/hf-home")).CacheRoot, Is.EqualTo("/data/hub-cache"));

    [Test]
    public void HfHomeGivesItsHubSubfolder() =>
        Assert.That(From(("HF_HOME", "/data/hf-home"), ("XDG_CACHE_HOME", "/data/xdg")).CacheRoot, Is.EqualTo(Path.Combine("/data/hf-home", "hub")));

    [Test]
    public void XdgCacheHomeIsUsedWithoutHfHome() =>
        Assert.That(From(("XDG_CACHE_HOME", "/data/xdg")).CacheRoot, Is.EqualTo(Path.Combine("/data/xdg", "huggingface", "hub")));

    [Test]
    public void DefaultIsTheUsersCacheFolder() =>
        Assert.That(From().CacheRoot, Is.EqualTo(Path.Combine(Home, ".cache", "huggingface", "hub")));

    [Test]
    public void EmptyVariablesCountAsUnset() =>
        Assert.That(From(("HF_HUB_CACHE", ""), ("HF_HOME", "  ")).CacheRoot, Is.EqualTo(Path.Combine(Home, ".cache", "huggingface", "hub")));

    [Test]
    public void TildeExpandsToHome() =>
        Assert.That(From(("HF_HOME", "~/models")).CacheRoot, Is.EqualTo(Path.Combine(Home, "models", "hub")));

    [Test]
    public void EndpointDefaultsToTheHubAndLosesATrailingSlash()
    {
        Assert.That(From().Endpoint, Is.EqualTo("https://huggingface.co"));
        Assert.That(From(("HF_ENDPOINT", "https://hf-mirror.example/")).Endpoint, Is.EqualTo("https://hf-mirror.example"));
    }

    [TestCase("1", true)]
    [TestCase("true", true)]
    [TestCase("YES", true)]
    [TestCase("0", false)]
    [TestCase("false", false)]
    [TestCase("", false)]
    public void OfflineFollowsHuggingFaceHubTruthyValues(string value, bool offline) =>
        Assert.That(From(("HF_HUB_OFFLINE", value)).Offline, Is.EqualTo(offline));

    [Test]
    public void LegacyHubCacheVariableIsHonoured() =>
        Assert.That(From(("HUGGINGFACE_HUB_CACHE", "/data/old"), ("HF_HOME", "/data/hf-home")).CacheRoot, Is.EqualTo("/data/old"));

    [Test]
    public void TokenComesFromHfTokenThenFromTheLoginFile()
    {
        using var home = new TempFolder();
        Assert.That(From(("HF_HOME", home.Path)).Token, Is.Null);
        File.WriteAllText(home.Combine("token"), "hf_from_login\n");
        Assert.That(From(("HF_HOME", home.Path)).Token, Is.EqualTo("hf_from_login"));
        Assert.That(From(("HF_HOME", home.Path), ("HF_TOKEN", "hf_abc")).Token, Is.EqualTo("hf_abc"));
        File.WriteAllText(home.Combine("elsewhere"), "hf_from_path");
        Assert.That(From(("HF_HOME", home.Path), ("HF_TOKEN_PATH", home.Combine("elsewhere"))).Token, Is.EqualTo("hf_from_path"));
    }

    [Test]
    public void OverrideAppliesOnlyUntilDisposed()
    {
        var custom = new HubEnvironment("/tmp/custom-cache", "http://127.0.0.1:1", null, true);
        using (HubEnvironment.Use(custom))
            Assert.That(HubEnvironment.Current, Is.SameAs(custom));
        Assert.That(HubEnvironment.Current, Is.Not.SameAs(custom));
    }
}
