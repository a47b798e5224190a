using Engine.Core.Checkpoints.Gguf;
using Engine.Core.Text;
using Engine.Tests.Models;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>
/// The tokenizer `engine quantize` writes, read back from the GGUF metadata, encodes and decodes as the
/// tokenizer.json it came from: Qwen2.5 and Llama 3 (gpt2 with their split rules), Llama 2 (llama, whose
/// scores must reproduce the merges).
/// </summary>
public class GgufTokenizerMetadataTests
{
    private const string Sample =
        "Hello world! It's 2024-06-01, naïve café 東京 😀\n\n  indented\tcode: x += 1; // comment \"quoted\" 12345678 " +
        "The quick brown fox jumps over the lazy dog. Ünïcödé ñ ß ø and   spaces  ";

    [TestCase("qwen2.5", 151936, "qwen2")]
    [TestCase("llama3", 128256, "llama-bpe")]
    [TestCase("llama2", 32000, "default")]
    public void ReadBackTokenizerEncodesAsTokenizerJson(string name, int vocab, string pre)
    {
        string source = SharedAssets.Require("tokenizers", name, "tokenizer.json");
        using var temp = new TempFolder();
        string folder = Directory.CreateDirectory(Path.Combine(temp.Path, name)).FullName;
        File.Copy(source, Path.Combine(folder, "tokenizer.json"));
        var writer = new GgufFileWriter();
        GgufTokenizerMetadata.AddTo(writer, folder, TinyModel.Llama() with { VocabSize = vocab, BosTokenId = null, EosTokenIds = [] });
        string gguf = temp.File("vocab.gguf");
        writer.Write(gguf);

        using var file = GgufFile.Open(gguf);
        Assert.That(file.Metadata.GetString("tokenizer.ggml.pre"), Is.EqualTo(pre));
        Assert.That(file.Metadata.GetArray<string>("tokenizer.ggml.tokens", "string")!.Length, Is.EqualTo(vocab), "padded to the embedding's rows");
        var written = TextTokenizer.FromGguf(file.Metadata);
        var original = TextTokenizer.Load(folder);
        int[] ids = original.Encode(Sample);
        Assert.That(written.Encode(Sample), Is.EqualTo(ids));
        Assert.That(written.Decode(ids), Is.EqualTo(original.Decode(ids)));
        Assert.That(written.AddsBos, Is.EqualTo(original.AddsBos));
        Assert.That(written.BosId, Is.EqualTo(original.BosId));
    }
}
