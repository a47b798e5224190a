using Engine.Models.Evaluation;
using NUnit.Framework;

namespace Engine.Tests.Evaluation;

/// <summary>The passkey prompt layout, scoring and the built-in filler text.</summary>
public class PasskeyProtocolTests
{
    [TestCase(0.0, 0)]
    [TestCase(0.5, 5)]
    [TestCase(1.0, 10)]
    public void NeedleSitsAtTheDepthBetweenInstructionAndQuestion(double depth, int wordsBefore)
    {
        string[] haystack = Enumerable.Range(0, 10).Select(i => $"w{i}").ToArray();
        string key = new('7', 64);
        string prompt = PasskeyPrompt.Build(haystack, 10, depth, key);
        Assert.That(prompt, Does.StartWith(PasskeyPrompt.Instruction));
        Assert.That(prompt, Does.EndWith(PasskeyPrompt.Question));
        string body = prompt[PasskeyPrompt.Instruction.Length..^PasskeyPrompt.Question.Length];
        int needle = body.IndexOf(PasskeyPrompt.Needle(key), StringComparison.Ordinal);
        Assert.That(needle, Is.GreaterThanOrEqualTo(0));
        Assert.That(body[..needle].Split(' ', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(wordsBefore));
        Assert.That(body.Replace(PasskeyPrompt.Needle(key), "").Split(' ', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(10));
    }

    [Test]
    public void HaystackRepeatsWhenShorterThanTheLength()
    {
        string prompt = PasskeyPrompt.Build(["a", "b", "c"], 7, 1.0, "1");
        Assert.That(prompt, Does.Contain("a b c a b c a The pass key is 1."));
    }

    [Test]
    public void PartialMatchIsTheLongestCommonSubstringOverTheKeyLength()
    {
        string key = "1234567890";
        Assert.That(PasskeyScore.PartialMatch("The pass key is 1234567890.", key), Is.EqualTo(1.0));
        Assert.That(PasskeyScore.PartialMatch("12345 and 67890", key), Is.EqualTo(0.5));
        Assert.That(PasskeyScore.PartialMatch("no digits", key), Is.EqualTo(0.0));
        Assert.That(PasskeyScore.LongestCommonSubstring("xx4567yy", key), Is.EqualTo(4));
        Assert.That(PasskeyScore.ExactMatch("is 1234567890.", key), Is.True);
        Assert.That(PasskeyScore.ExactMatch("is 123456789.", key), Is.False);
    }

    [Test]
    public void RandomKeysHave64DigitsAndDiffer()
    {
        var random = new Random(3);
        string a = PasskeyPrompt.RandomKey(random), b = PasskeyPrompt.RandomKey(random);
        Assert.That(a, Does.Match("^[1-9][0-9]{63}$"));
        Assert.That(a, Is.Not.EqualTo(b));
    }

    [Test]
    public void FillerTextIsDeterministicDigitFreeAndLongEnough()
    {
        var words = FillerText.Words(500, seed: 9);
        Assert.That(words.Count, Is.GreaterThanOrEqualTo(500));
        Assert.That(FillerText.Words(500, seed: 9), Is.EqualTo(words));
        Assert.That(FillerText.Words(500, seed: 10), Is.Not.EqualTo(words));
        Assert.That(string.Join(' ', words).Any(char.IsDigit), Is.False);
    }
}
