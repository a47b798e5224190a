using Engine.Core.Sampling;
using NUnit.Framework;

namespace Engine.Tests.Sampling;

public class StopStringMatcherTests
{
    private static (string Shown, bool Stopped) Feed(string[] stops, params string[] pieces)
    {
        var m = new StopStringMatcher(stops);
        string shown = "";
        foreach (var p in pieces) { shown += m.Push(p); if (m.Stopped) break; }
        if (!m.Stopped) shown += m.Flush();
        return (shown, m.Stopped);
    }

    [Test]
    public void StopStringSpanningTokensIsFoundAndCut()
    {
        Assert.That(Feed(["</end>"], "Hello </", "en", "d> more"), Is.EqualTo(("Hello ", true)));
    }

    [Test]
    public void PossibleStartIsHeldBackThenReleased()
    {
        var m = new StopStringMatcher(["###"]);
        Assert.That(m.Push("a#"), Is.EqualTo("a"));
        Assert.That(m.Push("#"), Is.EqualTo(""));
        Assert.That(m.Push("b"), Is.EqualTo("##b"));
        Assert.That(m.Stopped, Is.False);
    }

    [Test]
    public void EarliestOfSeveralStopsWins()
    {
        Assert.That(Feed(["world", "lo w"], "hello world"), Is.EqualTo(("hel", true)));
    }

    [Test]
    public void HeldTextIsFlushedAtTheEnd()
    {
        Assert.That(Feed(["STOP"], "abc ST"), Is.EqualTo(("abc ST", false)));
    }

    [Test]
    public void NoStopsPassesTextThrough()
    {
        Assert.That(Feed([], "a", "b"), Is.EqualTo(("ab", false)));
    }
}
