using System.Text.Json.Nodes;
using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Text.Tokenization;

/// <summary>BPE rules on hand-made tokenizer.json files: merge order, ignore_merges, byte fallback, unknowns.</summary>
[TestFixture]
public class BpeRuleTests
{
    [Test]
    public void EqualRanksMergeLeftmostFirstOnRunsOfOneCharacter()
    {
        using var synthetic = new SyntheticTokenizer(["a", "aa"], ["a a"]);
        var tokenizer = synthetic.Load();
        Assert.That(tokenizer.Encode("aaa"), Is.EqualTo(new[] { 1, 0 }));
        Assert.That(tokenizer.Encode("aaaaa"), Is.EqualTo(new[] { 1, 1, 0 }));
    }

    [Test]
    public void LowerRankMergesBeforeLeftmostPair()
    {
        using var synthetic = new SyntheticTokenizer(["a", "b", "c", "ab", "bc", "abc"], ["b c", "a b", "a bc"]);
        var tokenizer = synthetic.Load();
        Assert.That(tokenizer.Encode("abc"), Is.EqualTo(new[] { 5 }));
        Assert.That(tokenizer.Encode("abab"), Is.EqualTo(new[] { 3, 3 }));
        Assert.That(tokenizer.Encode("cab"), Is.EqualTo(new[] { 2, 3 }));
    }

    [Test]
    public void IgnoreMergesTakesAWholeWordFoundInTheVocabulary()
    {
        using var synthetic = new SyntheticTokenizer(["a", "b", "c", "ab", "abc"], ["a b"]);
        Assert.That(synthetic.Load().Encode("abc"), Is.EqualTo(new[] { 3, 2 }));
        synthetic.Model["ignore_merges"] = true;
        Assert.That(synthetic.Load().Encode("abc"), Is.EqualTo(new[] { 4 }));
    }

    [Test]
    public void MissingCharactersUseByteFallbackTokens()
    {
        string[] vocab = ["<unk>", "a", .. Enumerable.Range(0, 256).Select(b => $"<0x{b:X2}>")];
        using var synthetic = new SyntheticTokenizer(vocab, []);
        synthetic.Model["unk_token"] = "<unk>";
        synthetic.Model["byte_fallback"] = true;
        var tokenizer = synthetic.Load();
        int[] ids = tokenizer.Encode("a€");
        Assert.That(ids, Is.EqualTo(new[] { 1, 2 + 0xE2, 2 + 0x82, 2 + 0xAC }));
        Assert.That(tokenizer.Decode(ids), Is.EqualTo("a <0xE2> <0x82> <0xAC>"), "no decoder declared: tokens joined by spaces, as HF does");
    }

    [Test]
    public void UnknownCharactersFuseWhenAsked()
    {
        using var synthetic = new SyntheticTokenizer(["<unk>", "a"], []);
        synthetic.Model["unk_token"] = "<unk>";
        Assert.That(synthetic.Load().Encode("a€€a"), Is.EqualTo(new[] { 1, 0, 0, 1 }));
        synthetic.Model["fuse_unk"] = true;
        Assert.That(synthetic.Load().Encode("a€€a"), Is.EqualTo(new[] { 1, 0, 1 }));
    }

    [Test]
    public void AddedTokenStripsNeighbouringWhitespaceWhenDeclared()
    {
        using var synthetic = new SyntheticTokenizer(["a", " "], []);
        synthetic.AddToken(2, "<mask>", lstrip: true);
        Assert.That(synthetic.Load().Encode("a <mask> a"), Is.EqualTo(new[] { 0, 2, 1, 0 }));
    }

    [Test]
    public void LongestAddedTokenWinsAtTheSamePosition()
    {
        using var synthetic = new SyntheticTokenizer(["a"], []);
        synthetic.AddToken(1, "<|x|>").AddToken(2, "<|x|>a");
        Assert.That(synthetic.Load().Encode("a<|x|>aa<|x|>"), Is.EqualTo(new[] { 0, 2, 0, 1 }));
    }

    [Test]
    public void TokenizerConfigAddBosTokenOverridesThePostProcessor()
    {
        using var synthetic = new SyntheticTokenizer(["a"], []);
        synthetic.AddToken(1, "<s>").AddToken(2, "</s>");
        Assert.That(synthetic.Load().AddsBos, Is.False);

        var tokenizer = synthetic.Load(new JsonObject { ["add_bos_token"] = true, ["bos_token"] = "<s>", ["eos_token"] = new JsonObject { ["content"] = "</s>" } });
        Assert.That(tokenizer.Encode("a"), Is.EqualTo(new[] { 1, 0 }));
        Assert.That(tokenizer.EosIds, Is.EquivalentTo(new[] { 2 }));
        Assert.That(tokenizer.Encode("a", addSpecialTokens: false), Is.EqualTo(new[] { 0 }));
    }

    [Test]
    public void MalformedFileIsAOneLineEngineException()
    {
        using var synthetic = new SyntheticTokenizer(["a"], []);
        File.WriteAllText(Path.Combine(synthetic.Folder, "tokenizer.json"), "{\"model\": ");
        var error = Assert.Throws<EngineException>(() => Engine.Core.Text.TextTokenizer.Load(synthetic.Folder))!;
        Assert.That(error.Message, Does.Contain("tokenizer.json").And.Not.Contain("\n"));
    }

    [Test]
    public void UnsupportedModelTypeIsNamed()
    {
        using var synthetic = new SyntheticTokenizer(["a"], []);
        synthetic.Model["type"] = "Unigram";
        var error = Assert.Throws<EngineException>(() => synthetic.Load())!;
        Assert.That(error.Message, Does.Contain("Unigram"));
    }

    [Test]
    public void NegativeTokenIdIsRejected()
    {
        using var synthetic = new SyntheticTokenizer(["a", "b"], []);
        synthetic.Model["vocab"]!["b"] = -3;
        var error = Assert.Throws<EngineException>(() => synthetic.Load())!;
        Assert.That(error.Message, Does.Contain("-3"));
    }

    [Test]
    public void MergeOfUnknownTokensIsRejected()
    {
        using var synthetic = new SyntheticTokenizer(["a", "b"], ["a b"]);
        var error = Assert.Throws<EngineException>(() => synthetic.Load())!;
        Assert.That(error.Message, Does.Contain("merge"));
    }
}
