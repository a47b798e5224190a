using System.CommandLine;
using Engine.Cli.Formatting;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Models.Generation;
using Engine.Models.Kv;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>The KV-policy flags (--lagkv and friends, --kv-policy, --prefill-chunk auto) and the --json report.</summary>
[TestFixture]
public class KvPolicyCliTests
{
    private static KvPolicyChoice Resolve(params string[] args)
    {
        var options = new KvPolicyOptions();
        var command = new RootCommand();
        options.AddTo(command);
        ParseResult parsed = command.Parse(args);
        Assert.That(parsed.Errors, Is.Empty);
        return options.Read(parsed).Create(layerCount: 4);
    }

    [Test]
    public void LagKvTextBuildTheOptionsAndPolicy()
    {
        var choice = Resolve("--lagkv", "4x", "--lag-size", "32", "--sink-size", "4", "--lagkv-skip-layers", "0,3", "--lagkv-mode", "press");
        Assert.That(choice.Name, Is.EqualTo("lagkv"));
        Assert.That(choice.Policy, Is.TypeOf<LagKvPolicy>());
        var o = choice.LagKv!;
        Assert.That((o.Retention, o.LagSize, o.SinkSize, o.Mode, o.KeepPerPartition), Is.EqualTo((0.25, 32, 4, LagKvMode.Press, 8)));
        Assert.That(o.SkipLayers, Is.EquivalentTo(new[] { 0, 3 }));
    }

    [Test]
    public void DefaultsAndOtherPolicies()
    {
        var defaults = Resolve("--lagkv", "r=0.2");
        Assert.That((defaults.LagKv!.LagSize, defaults.LagKv.SinkSize, defaults.LagKv.Mode), Is.EqualTo((1024, 16, LagKvMode.Reference)));
        var none = Resolve();
        Assert.That((none.Name, none.Policy, none.LagKv), Is.EqualTo(("full", (IKvCachePolicy?)null, (LagKvOptions?)null)));
        Assert.That(Resolve("--lagkv", "8x", "--kv-policy", "streaming").Policy, Is.TypeOf<StreamingLlmPolicy>());
        Assert.That(Resolve("--lagkv", "8x", "--kv-policy", "snapkv").Policy, Is.TypeOf<SnapKvPolicy>());
        Assert.That(Resolve("--lagkv", "8x", "--kv-policy", "h2o").Policy, Is.TypeOf<H2OPolicy>());
        Assert.That(Resolve("--lagkv", "8x", "--kv-policy", "full").Policy, Is.Null);
    }

    [TestCase("--lagkv", "1x")]
    [TestCase("--lag-size", "32")]
    [TestCase("--kv-policy", "lagkv")]
    [TestCase("--kv-policy", "bogus", "--lagkv", "4x")]
    [TestCase("--lagkv", "4x", "--lagkv-mode", "fast")]
    [TestCase("--lagkv", "4x", "--lagkv-skip-layers", "4")]
    [TestCase("--lagkv", "8x", "--lag-size", "4")]
    public void BadFlagsAreOneLineErrors(params string[] args)
    {
        var e = Assert.Throws<EngineException>(() => Resolve(args))!;
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void UnknownPolicyIsNamedWithTheKnownOnes()
    {
        var e = Assert.Throws<EngineException>(() => Resolve("--kv-policy", "magic"))!;
        Assert.That(e.Message, Does.Contain("'magic'").And.Contain("lagkv, streaming, snapkv, h2o, full"));
    }

    [Test]
    public void RegistryRecommendationGivesLagAndSinkUnlessFlagsDo()
    {
        var options = new KvPolicyOptions();
        var command = new RootCommand();
        options.AddTo(command);
        var recommended = new Engine.Core.Hub.LagKvRecommendation(128, 8, 4);
        var fromRegistry = options.Read(command.Parse(["--lagkv", "4x"]), recommended).LagKv!;
        Assert.That((fromRegistry.LagSize, fromRegistry.SinkSize), Is.EqualTo((128, 8)));
        var fromFlags = options.Read(command.Parse(["--lagkv", "4x", "--lag-size", "32"]), recommended).LagKv!;
        Assert.That((fromFlags.LagSize, fromFlags.SinkSize), Is.EqualTo((32, 8)));
        Assert.That(KvPolicyOptions.RecommendationFor("qwen2.5-0.5b"), Is.Not.Null, "a registry name");
    }

    [Test]
    public void WarnsWhenNothingCanBeCompressedWithinTheContext()
    {
        var settings = new KvPolicySettings("lagkv", new LagKvOptions { Retention = 0.25 }); // S = 16, L = 1024
        string warning = settings.CompressionWarning(512, "the model's context")!;
        Assert.That(warning, Does.StartWith("warning: ").And.Contain("2064").And.Contain("--lag-size 64").And.Not.Contain("\n"));
        Assert.That(settings.CompressionWarning(4096, "the model's context"), Is.Null);
        Assert.That(new KvPolicySettings("full", null).CompressionWarning(10, "x"), Is.Null);
    }

    [Test]
    public void PrefillChunkAutoFollowsTheLag()
    {
        var o = new LagKvOptions { Retention = 0.25, LagSize = 32, SinkSize = 4 };
        Assert.That(KvPolicyOptions.ParsePrefillChunk("auto", o).Chunks(200), Is.EqualTo(new[] { 68, 32, 32, 32, 32, 4 }));
        Assert.That(KvPolicyOptions.ParsePrefillChunk("64", o).Chunks(100), Is.EqualTo(new[] { 64, 36 }));
        Assert.That(KvPolicyOptions.ParsePrefillChunk("0", null).Chunks(100), Is.EqualTo(new[] { 100 }));
        Assert.That(KvPolicyOptions.ParsePrefillChunk("auto", null).Chunks(1000).First(), Is.EqualTo(PrefillSchedule.DefaultChunk));
        Assert.Throws<EngineException>(() => KvPolicyOptions.ParsePrefillChunk("big", o));
    }

    [Test]
    public void JsonReportsAchievedRatioAndBytesSaved()
    {
        var choice = Resolve("--lagkv", "4x", "--lag-size", "32", "--sink-size", "4", "--lagkv-skip-layers", "1");
        var stats = new GenerationStats { Layers = [new(300, 132), new(300, 300), new(300, 132), new(300, 132)] };
        var json = KvPolicyJson.Build(choice, stats, bytesPerSlot: 64);
        Assert.That((string?)json["policy"], Is.EqualTo("lagkv"));
        Assert.That((double)json["compression_ratio"]!, Is.EqualTo(Math.Round(1200.0 / 696, 4)));
        Assert.That((long)json["kv_bytes_saved"]!, Is.EqualTo((1200 - 696) * 64L));
        Assert.That((int)json["lagkv"]!["keep_per_partition"]!, Is.EqualTo(8));
        Assert.That((bool)json["layers"]![1]!["skipped"]!, Is.True);
        Assert.That((int)json["layers"]![2]!["physical_len"]!, Is.EqualTo(132));
    }
}
