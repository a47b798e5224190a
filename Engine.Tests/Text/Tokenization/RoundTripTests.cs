using Engine.Core.Text;
using NUnit.Framework;

namespace Engine.Tests.Text.Tokenization;

/// <summary>
/// Random texts (seeded) mixing ASCII, accented Latin, CJK, emoji and odd whitespace: decoding the
/// encoding gives the text back, and streaming the ids one by one gives the same text.
/// </summary>
[TestFixture]
public class RoundTripTests
{
    private static readonly string[] Alphabet =
    [
        "a", "b", "Z", "7", "0", " ", "  ", "\n", "\t", "\r\n", ".", ",", "'s", "'", "-", "$", "é", "ß", "ñ", "Ω", "ж",
        "世", "界", "日本", "語", "한", "🎉", "🦙", "👍🏽", "𝐀", "€", "\u00a0", "–", "’", "™", "ℓ", "\u3000",
    ];

    private static IEnumerable<TestCaseData> Tokenizers()
    {
        yield return new TestCaseData((object)new[] { "tokenizers", "qwen2.5" }).SetName("Qwen2");
        yield return new TestCaseData((object)new[] { "tokenizers", "llama3" }).SetName("Llama3");
        yield return new TestCaseData((object)new[] { "tokenizers", "llama2" }).SetName("Llama2");
        yield return new TestCaseData((object)new[] { "models", "stories260K" }).SetName("Stories");
    }

    [TestCaseSource(nameof(Tokenizers))]
    public void RandomTextsRoundTripThroughDecodeAndStream(string[] folder)
    {
        TextTokenizer tokenizer = TokenizerAssets.Get(folder);
        var random = new Random(1234);
        for (int sample = 0; sample < 300; sample++)
        {
            string text = string.Concat(Enumerable.Range(0, random.Next(1, 40)).Select(_ => Alphabet[random.Next(Alphabet.Length)]));
            int[] ids = tokenizer.Encode(text);
            Assert.That(tokenizer.Decode(ids, skipSpecialTokens: true), Is.EqualTo(text), $"sample {sample}");

            var stream = tokenizer.CreateStreamingDetokenizer();
            var pieces = ids.Select(stream.Push).Append(stream.Flush()).ToList();
            Assert.That(string.Concat(pieces), Is.EqualTo(text), $"sample {sample} streamed");
            Assert.That(pieces, Has.None.Contains('\uFFFD'));
        }
    }
}
