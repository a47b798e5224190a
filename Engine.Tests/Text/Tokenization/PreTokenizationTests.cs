using System.Text.Json;
using Engine.Core.Text;
using NUnit.Framework;

namespace Engine.Tests.Text.Tokenization;

/// <summary>Normalizers and pre-tokenizers built from their tokenizer.json sections.</summary>
[TestFixture]
public class PreTokenizationTests
{
    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement;

    [TestCase("Isolated", new[] { "a", "-", "b", "-", "-", "c" })]
    [TestCase("Removed", new[] { "a", "b", "c" })]
    [TestCase("MergedWithPrevious", new[] { "a-", "b-", "-", "c" })]
    [TestCase("MergedWithNext", new[] { "a", "-b", "-", "-c" })]
    public void SplitBehaviors(string behavior, string[] expected)
    {
        var pre = PreTokenizer.FromJson(Parse($$"""{"type": "Split", "pattern": {"String": "-"}, "behavior": "{{behavior}}", "invert": false}"""));
        Assert.That(pre.Split("a-b--c", atTextStart: true), Is.EqualTo(expected));
    }

    [Test]
    public void RegexSeesCharactersOutsideTheBasicPlaneAsCodePoints()
    {
        const string llama3Split = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
        var pre = PreTokenizer.FromJson(Parse($$"""{"type": "Split", "pattern": {"Regex": {{JsonSerializer.Serialize(llama3Split)}}}, "behavior": "Isolated", "invert": false}"""));
        // 𝐀 is a letter and 𝟏 a digit (mathematical alphanumerics); 🎉 is a symbol.
        Assert.That(pre.Split("a𝐀b 𝟏𝟐𝟑𝟒a🎉", atTextStart: true), Is.EqualTo(new[] { "a𝐀b", " ", "𝟏𝟐𝟑", "𝟒", "a", "🎉" }));
    }

    [TestCase("""{"type": "Digits", "individual_digits": true}""", new[] { "ab", "1", "2", "3", " c" })]
    [TestCase("""{"type": "Digits", "individual_digits": false}""", new[] { "ab", "123", " c" })]
    [TestCase("""{"type": "Whitespace"}""", new[] { "ab123", "c", "!?" })]
    [TestCase("""{"type": "WhitespaceSplit"}""", new[] { "ab123", "c!?" })]
    public void SimpleSplitters(string json, string[] expected)
    {
        string text = json.Contains("Whitespace") ? "ab123 c!? " : "ab123 c";
        Assert.That(PreTokenizer.FromJson(Parse(json)).Split(text, atTextStart: true), Is.EqualTo(expected));
    }

    [Test]
    public void ByteLevelMapsBytesToVisibleCharacters()
    {
        var pre = PreTokenizer.FromJson(Parse("""{"type": "ByteLevel", "add_prefix_space": true, "use_regex": true}"""));
        Assert.That(pre.Split("Hi there\n", atTextStart: true), Is.EqualTo(new[] { "ĠHi", "Ġthere", "Ċ" }));
        Assert.That(pre.Split("é", atTextStart: true), Is.EqualTo(new[] { "ĠÃ©" }));
    }

    [Test]
    public void MetaspaceFirstPrependsOnlyAtTheStartOfTheText()
    {
        var pre = PreTokenizer.FromJson(Parse("""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}"""));
        Assert.That(pre.Split("hello  world", atTextStart: true), Is.EqualTo(new[] { "▁hello", "▁", "▁world" }));
        Assert.That(pre.Split("hello", atTextStart: false), Is.EqualTo(new[] { "hello" }));
    }

    [Test]
    public void SentencepieceNormalizerPrependsAndReplacesSpaces()
    {
        var normalizer = TextNormalizer.FromJson(Parse("""
            {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}
            """));
        Assert.That(normalizer.Normalize("Hello  world"), Is.EqualTo("▁Hello▁▁world"));
        Assert.That(normalizer.Normalize(""), Is.Empty);
    }

    [Test]
    public void NfcComposesDecomposedCharacters()
    {
        if (!UnicodeNormalization.IsAvailable) Assert.Ignore("no Unicode normalization in this process (invariant globalization without ICU)");
        var normalizer = TextNormalizer.FromJson(Parse("""{"type": "NFC"}"""));
        Assert.That(normalizer.Normalize("cafe\u0301 A\u030A \u212B"), Is.EqualTo("caf\u00e9 \u00c5 \u00c5"));
    }

    [Test]
    public void Qwen2EncodesDecomposedTextAsItsComposedForm()
    {
        if (!UnicodeNormalization.IsAvailable) Assert.Ignore("no Unicode normalization in this process (invariant globalization without ICU)");
        var qwen = TokenizerAssets.Qwen2;
        Assert.That(qwen.Encode("cafe\u0301"), Is.EqualTo(qwen.Encode("caf\u00e9")));
    }

    [Test]
    public void UnsupportedSectionsAreNamedInTheError()
    {
        var error = Assert.Throws<Engine.Core.EngineException>(() => PreTokenizer.FromJson(Parse("""{"type": "BertPreTokenizer"}""")))!;
        Assert.That(error.Message, Does.Contain("BertPreTokenizer"));
        error = Assert.Throws<Engine.Core.EngineException>(() => TextNormalizer.FromJson(Parse("""{"type": "BertNormalizer"}""")))!;
        Assert.That(error.Message, Does.Contain("BertNormalizer"));
    }
}
