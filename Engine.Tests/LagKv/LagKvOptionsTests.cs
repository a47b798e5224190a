using Engine.Models.Kv;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

[TestFixture]
public class LagKvOptionsTests
{
    [TestCase("2x", 0.5)]
    [TestCase("4x", 0.25)]
    [TestCase("8X", 0.125)]
    [TestCase("32x", 1.0 / 32)]
    [TestCase("r=0.2", 0.2)]
    [TestCase(" r=0.167 ", 0.167)]
    public void ParsesRetention(string text, double expected) =>
        Assert.That(LagKvText.ParseRetention(text), Is.EqualTo(expected));

    [TestCase("1x")]
    [TestCase("33x")]
    [TestCase("x")]
    [TestCase("r=0")]
    [TestCase("r=1")]
    [TestCase("r=abc")]
    [TestCase("0.25")]
    [TestCase("")]
    public void RejectsBadRetention(string text)
    {
        var e = Assert.Throws<EngineException>(() => LagKvText.ParseRetention(text))!;
        Assert.That(e.Message, Does.Contain("--lagkv"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void KeepIsComputedInDouble()
    {
        Assert.That(new LagKvOptions { Retention = 0.167, LagSize = 1024 }.KeepPerPartition, Is.EqualTo(171));
        Assert.That(new LagKvOptions { Retention = 1.0 / 6, LagSize = 1024 }.KeepPerPartition, Is.EqualTo(170));
        Assert.That(new LagKvOptions { Retention = 0.25 }.KeepPerPartition, Is.EqualTo(256));
        var defaults = new LagKvOptions { Retention = 0.5 };
        Assert.That((defaults.LagSize, defaults.SinkSize, defaults.Mode), Is.EqualTo((1024, 16, LagKvMode.Reference)));
    }

    [Test]
    public void ParsesSkipLayersAndMode()
    {
        Assert.That(LagKvText.ParseSkipLayers("0, 2,5-7"), Is.EquivalentTo(new[] { 0, 2, 5, 6, 7 }));
        Assert.That(LagKvText.ParseSkipLayers(null), Is.Empty);
        Assert.Throws<EngineException>(() => LagKvText.ParseSkipLayers("3-1"));
        Assert.Throws<EngineException>(() => LagKvText.ParseSkipLayers("a"));
        Assert.That(LagKvText.ParseMode("Press"), Is.EqualTo(LagKvMode.Press));
        Assert.Throws<EngineException>(() => LagKvText.ParseMode("fast"));
    }

    [Test]
    public void ValidateRejectsUnusableSettings()
    {
        Assert.Throws<EngineException>(() => new LagKvOptions { Retention = 0.125, LagSize = 4 }.Validate(2));
        Assert.Throws<EngineException>(() => new LagKvOptions { Retention = 0.5, LagSize = 1 }.Validate(2));
        Assert.Throws<EngineException>(() => new LagKvOptions { Retention = 0.5, SinkSize = -1 }.Validate(2));
        Assert.Throws<EngineException>(() => new LagKvOptions { Retention = 0.5, SkipLayers = new HashSet<int> { 2 } }.Validate(2));
        Assert.DoesNotThrow(() => new LagKvOptions { Retention = 0.5, SkipLayers = new HashSet<int> { 1 } }.Validate(2));
        // Core's messages speak of the parameters, not of command-line flags.
        var e = Assert.Throws<EngineException>(() => new LagKvOptions { Retention = 0.5, LagSize = 1 }.Validate(2))!;
        Assert.That(e.Message, Does.Contain("lag size").And.Not.Contain("--"));
        var options = new LagKvOptions { Retention = 0.5, SkipLayers = new HashSet<int> { 1 } };
        Assert.That((options.Compresses(0), options.Compresses(1)), Is.EqualTo((true, false)));
    }
}
