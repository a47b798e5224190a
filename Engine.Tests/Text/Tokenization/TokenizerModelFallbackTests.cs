using Engine.Core;
using Engine.Core.Text;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Text.Tokenization;

/// <summary>
/// Folders with tokenizer.model but no tokenizer.json: Llama 3's tiktoken file and Llama 2's
/// sentencepiece model must tokenize the vectors as their tokenizer.json does.
/// </summary>
[TestFixture]
public class TokenizerModelFallbackTests
{
    private static TextTokenizer LoadModelFileAlone(string family, out string folder)
    {
        string source = SharedAssets.Require("tokenizers", family, "tokenizer.model");
        folder = Directory.CreateTempSubdirectory("engine-tokenizer-model-").FullName;
        File.Copy(source, Path.Combine(folder, "tokenizer.model"));
        return TextTokenizer.Load(folder);
    }

    [TestCase("llama3", "llama-bpe")]
    [TestCase("llama2", "llama-spm")]
    public void TokenizerModelMatchesAllVectors(string family, string vectors)
    {
        TextTokenizer tokenizer = LoadModelFileAlone(family, out string folder);
        try
        {
            var failures = new List<string>();
            foreach (var (text, expected) in TokenizerAssets.Vectors(vectors))
            {
                int[] actual = tokenizer.Encode(text, addSpecialTokens: false);
                if (!actual.SequenceEqual(expected))
                    failures.Add($"{System.Text.Json.JsonSerializer.Serialize(text)}: expected [{string.Join(' ', expected)}] got [{string.Join(' ', actual)}]");
                else if (tokenizer.Decode(actual) != text)
                    failures.Add($"{System.Text.Json.JsonSerializer.Serialize(text)} does not decode back");
            }
            Assert.That(failures, Is.Empty, $"{failures.Count}/46 vectors differ");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestCase("llama3")]
    [TestCase("llama2")]
    public void TokenizerModelAgreesWithTokenizerJsonOnRandomText(string family)
    {
        TextTokenizer fromModel = LoadModelFileAlone(family, out string folder);
        try
        {
            TextTokenizer fromJson = TokenizerAssets.Get("tokenizers", family);
            string[] pieces = ["the", " cat", "  ", "aaaa", "ing", "\n", "1234", "é", "世界", "🦙", "'re", "!!", " ", "ZZ", "\t", "ö"];
            var random = new Random(99);
            for (int sample = 0; sample < 300; sample++)
            {
                string text = string.Concat(Enumerable.Range(0, random.Next(1, 30)).Select(_ => pieces[random.Next(pieces.Length)]));
                Assert.That(fromModel.Encode(text), Is.EqualTo(fromJson.Encode(text)), System.Text.Json.JsonSerializer.Serialize(text));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void TiktokenFileHasLlama3SpecialTokensAndBos()
    {
        TextTokenizer tokenizer = LoadModelFileAlone("llama3", out string folder);
        try
        {
            TextTokenizer reference = TokenizerAssets.Llama3;
            Assert.That(tokenizer.VocabSize, Is.EqualTo(reference.VocabSize));
            for (int id = 128000; id < 128256; id++)
                Assert.That(tokenizer.IdToToken(id), Is.EqualTo(reference.IdToToken(id)), $"special token {id}");
            Assert.That(tokenizer.Encode("Hi<|eot_id|>"), Is.EqualTo(reference.Encode("Hi<|eot_id|>")));
            Assert.That(tokenizer.BosId, Is.EqualTo(128000));
            Assert.That(tokenizer.EosIds, Does.Contain(128001));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void SentencepieceFileHasBosAndSpecialPieces()
    {
        TextTokenizer tokenizer = LoadModelFileAlone("llama2", out string folder);
        try
        {
            Assert.That(tokenizer.BosId, Is.EqualTo(1));
            Assert.That(tokenizer.AddsBos, Is.True);
            Assert.That(tokenizer.EosIds, Is.EquivalentTo(new[] { 2 }));
            Assert.That(tokenizer.IsSpecial(1) && tokenizer.IsSpecial(2), Is.True);
            Assert.That(tokenizer.Decode(tokenizer.Encode("Hello 🦙"), skipSpecialTokens: true), Is.EqualTo("Hello 🦙"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestCase(new byte[] { 0x0A, 0xFF, 0xFF, 0x01, 0x02 })]
    [TestCase(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F })]
    [TestCase(new byte[] { 0x08, 0x01 })]
    public void GarbageModelFileIsAOneLineError(byte[] content)
    {
        string folder = Directory.CreateTempSubdirectory("engine-tokenizer-model-").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(folder, "tokenizer.model"), content);
            var error = Assert.Throws<EngineException>(() => TextTokenizer.Load(folder))!;
            Assert.That(error.Message, Does.Contain("tokenizer.model").And.Not.Contain("\n"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
