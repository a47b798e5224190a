using System.Text;
using Engine.Core.Text;
using NUnit.Framework;

namespace Engine.Tests.Text.Tokenization;

/// <summary>
/// Streams ids one at a time: characters split over several tokens (byte-level pieces, &lt;0xNN&gt;
/// byte-fallback tokens) must never show up as U+FFFD, and the pieces must add up to Decode.
/// </summary>
[TestFixture]
public class StreamingDetokenizerTests
{
    private const string MultiByteText = "Once upon a time 世界 said 🎉🦙 and naïve café — ok ✓ 日本語のテキスト 👨‍👩‍👧";

    private static IEnumerable<TestCaseData> Tokenizers()
    {
        yield return new TestCaseData((object)new[] { "tokenizers", "qwen2.5" }).SetName("Qwen2");
        yield return new TestCaseData((object)new[] { "tokenizers", "llama3" }).SetName("Llama3");
        yield return new TestCaseData((object)new[] { "tokenizers", "llama2" }).SetName("Llama2");
    }

    [TestCaseSource(nameof(Tokenizers))]
    public void StreamOfSplitCharactersHasNoReplacementAndEqualsDecode(string[] folder)
    {
        TextTokenizer tokenizer = TokenizerAssets.Get(folder);
        int[] ids = tokenizer.Encode(MultiByteText, addSpecialTokens: false);
        Assert.That(SomeTokenIsPartOfACharacter(tokenizer, ids), Is.True, "the text should split characters across tokens");

        var stream = tokenizer.CreateStreamingDetokenizer();
        var pieces = ids.Select(stream.Push).Append(stream.Flush()).ToList();

        Assert.That(pieces, Has.None.Contains('\uFFFD'));
        Assert.That(string.Concat(pieces), Is.EqualTo(tokenizer.Decode(ids)));
        Assert.That(string.Concat(pieces), Is.EqualTo(MultiByteText));
    }

    [Test]
    public void Llama2EmojiUsesByteFallbackTokensAndStreamsWhole()
    {
        TextTokenizer tokenizer = TokenizerAssets.Llama2;
        int[] ids = tokenizer.Encode("🦙", addSpecialTokens: false);
        Assert.That(ids.Skip(1).Select(tokenizer.IdToToken), Is.EqualTo(new[] { "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>" }));

        var stream = tokenizer.CreateStreamingDetokenizer();
        var outputs = ids.Select(stream.Push).ToList();
        Assert.That(outputs.Take(outputs.Count - 1), Has.All.Empty, "nothing is emitted before the last byte");
        Assert.That(outputs[^1], Is.EqualTo("🦙"));
        Assert.That(stream.Flush(), Is.Empty);
    }

    [Test]
    public void Llama2LeadingSpaceOfFirstTokenAfterBosIsStripped()
    {
        TextTokenizer tokenizer = TokenizerAssets.Llama2;
        int[] ids = tokenizer.Encode("Hello world");
        Assert.That(ids[0], Is.EqualTo(1));
        Assert.That(tokenizer.IdToToken(ids[1]), Does.StartWith("▁"));

        var stream = tokenizer.CreateStreamingDetokenizer();
        Assert.That(stream.Push(ids[0]), Is.Empty);
        Assert.That(stream.Push(ids[1]), Is.EqualTo("Hello"));
        Assert.That(stream.Push(ids[2]), Is.EqualTo(" world"));
        Assert.That(tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo("Hello world"));
        Assert.That(tokenizer.Decode(ids), Is.EqualTo("<s> Hello world"));
    }

    [Test]
    public void UnfinishedCharacterBecomesReplacementOnlyAtFlush()
    {
        TextTokenizer tokenizer = TokenizerAssets.Llama2;
        int e2 = tokenizer.TokenToId("<0xE2>")!.Value, x82 = tokenizer.TokenToId("<0x82>")!.Value;
        var stream = tokenizer.CreateStreamingDetokenizer();
        Assert.That(stream.Push(e2), Is.Empty);
        Assert.That(stream.Push(x82), Is.Empty);
        Assert.That(stream.Flush(), Is.EqualTo("\uFFFD"));
        Assert.That(tokenizer.Decode([e2, x82]), Is.EqualTo("\uFFFD"));
    }

    [Test]
    public void ByteThatCanNeverStartACharacterIsReplacedAsDecodeDoes()
    {
        TextTokenizer tokenizer = TokenizerAssets.Llama2;
        int[] ids = [tokenizer.TokenToId("<0xFF>")!.Value, .. tokenizer.Encode("ab", addSpecialTokens: false)];
        var stream = tokenizer.CreateStreamingDetokenizer();
        string streamed = string.Concat(ids.Select(stream.Push)) + stream.Flush();
        Assert.That(streamed, Is.EqualTo(tokenizer.Decode(ids)));
        Assert.That(streamed, Does.StartWith("\uFFFD"));
    }

    [Test]
    public void SpecialTokensAreKeptWhenAsked()
    {
        TextTokenizer tokenizer = TokenizerAssets.Qwen2;
        int[] ids = tokenizer.Encode("<|im_start|>user\nhi<|im_end|>");
        var skipping = tokenizer.CreateStreamingDetokenizer();
        var keeping = tokenizer.CreateStreamingDetokenizer(skipSpecialTokens: false);
        Assert.That(string.Concat(ids.Select(skipping.Push)) + skipping.Flush(), Is.EqualTo("user\nhi"));
        Assert.That(string.Concat(ids.Select(keeping.Push)) + keeping.Flush(), Is.EqualTo("<|im_start|>user\nhi<|im_end|>"));
    }

    /// <summary>True when some token's bytes are not valid UTF-8 on their own (a character is split).</summary>
    private static bool SomeTokenIsPartOfACharacter(TextTokenizer tokenizer, int[] ids)
    {
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (int id in ids)
        {
            try { strict.GetString(tokenizer.TokenBytes(id)!); }
            catch (DecoderFallbackException) { return true; }
        }
        return false;
    }
}
