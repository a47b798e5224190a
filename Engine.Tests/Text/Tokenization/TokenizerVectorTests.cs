using Engine.Core.Text;
using NUnit.Framework;

namespace Engine.Tests.Text.Tokenization;

/// <summary>llama.cpp's tokenizer vectors (ids made by Hugging Face tokenizers) for the three families.</summary>
[TestFixture]
public class TokenizerVectorTests
{
    private static IEnumerable<TestCaseData> Families()
    {
        yield return new TestCaseData("qwen2", new[] { "tokenizers", "qwen2.5" }).SetName("Qwen2");
        yield return new TestCaseData("qwen2", new[] { "tokenizers", "qwen2" }).SetName("Qwen2VocabAndMergesFiles");
        yield return new TestCaseData("llama-bpe", new[] { "tokenizers", "llama3" }).SetName("Llama3");
        yield return new TestCaseData("llama-spm", new[] { "tokenizers", "llama2" }).SetName("Llama2");
    }

    [TestCaseSource(nameof(Families))]
    public void EncodeMatchesAllVectors(string vectors, string[] folder)
    {
        TextTokenizer tokenizer = TokenizerAssets.Get(folder);
        var cases = TokenizerAssets.Vectors(vectors);
        Assert.That(cases, Has.Count.EqualTo(46));
        var failures = new List<string>();
        foreach (var (text, expected) in cases)
        {
            int[] actual = tokenizer.Encode(text, addSpecialTokens: false);
            if (!actual.SequenceEqual(expected))
                failures.Add($"{Quote(text)}: expected [{string.Join(' ', expected)}] got [{string.Join(' ', actual)}]");
        }
        Assert.That(failures, Is.Empty, $"{failures.Count}/46 vectors differ");
    }

    [TestCaseSource(nameof(Families))]
    public void ReferenceIdsDecodeBackToText(string vectors, string[] folder)
    {
        TextTokenizer tokenizer = TokenizerAssets.Get(folder);
        var failures = new List<string>();
        foreach (var (text, ids) in TokenizerAssets.Vectors(vectors))
        {
            string decoded = tokenizer.Decode(ids);
            if (decoded != text) failures.Add($"{Quote(text)} decoded as {Quote(decoded)}");
        }
        Assert.That(failures, Is.Empty);
    }

    private static string Quote(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
