using System.Text.Json;
using Engine.Cli;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Text.Tokenization;

/// <summary>`engine tokenize` run in-process.</summary>
[TestFixture]
public class TokenizeCommandTests
{
    [Test]
    public void StoriesExpectedTextTokenizesToTheReferenceGreedyIds()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        string text = File.ReadAllText(Path.Combine(folder, "expected_greedy_200.txt"));
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "reference_greedy.json")));
        int[] expected = reference.RootElement.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        var (code, output, error) = Run("tokenize", "--model", folder, "--no-special", "--json", text);

        Assert.That(code, Is.EqualTo(0), error);
        using var printed = JsonDocument.Parse(output);
        int[] ids = printed.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.That(expected, Has.Length.EqualTo(200));
        Assert.That(ids, Is.EqualTo(expected));
        Assert.That(printed.RootElement.GetProperty("tokens").GetArrayLength(), Is.EqualTo(200));
    }

    [Test]
    public void PlainOutputIsIdsOnOneLineWithBos()
    {
        string folder = SharedAssets.Require("tokenizers", "llama3");
        var (code, output, _) = Run("tokenize", "--model", folder, "Hello world");
        Assert.That(code, Is.EqualTo(0));
        int[] expected = TokenizerAssets.Llama3.Encode("Hello world");
        Assert.That(output.TrimEnd('\n'), Is.EqualTo(string.Join(' ', expected)));
        Assert.That(expected[0], Is.EqualTo(128000));
    }

    [Test]
    public void JsonTokensSpellTheVocabulary()
    {
        string folder = SharedAssets.Require("tokenizers", "qwen2.5");
        var (code, output, _) = Run("tokenize", "--model", folder, "--json", "<|im_start|>hello world");
        Assert.That(code, Is.EqualTo(0));
        using var printed = JsonDocument.Parse(output);
        var tokens = printed.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.That(tokens, Is.EqualTo(new[] { "<|im_start|>", "hello", "Ġworld" }));
    }

    [Test]
    public void FileOptionReadsTheTextFromAFile()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        string textFile = Path.Combine(folder, "expected_greedy_200.txt");
        var (fromFile, output, error) = Run("tokenize", "--model", folder, "--file", textFile);
        Assert.That(fromFile, Is.EqualTo(0), error);
        Assert.That(output.TrimEnd('\n'), Is.EqualTo(string.Join(' ', TokenizerAssets.Stories.Encode(File.ReadAllText(textFile)))));

        var (both, _, bothError) = Run("tokenize", "--model", folder, "--file", textFile, "text");
        Assert.That(both, Is.EqualTo(1));
        Assert.That(bothError, Does.StartWith("error: "));
        var (neither, _, neitherError) = Run("tokenize", "--model", folder);
        Assert.That(neither, Is.EqualTo(1));
        Assert.That(neitherError, Does.Contain("no text"));
    }

    [Test]
    public void FolderWithoutTokenizerJsonIsAOneLineError()
    {
        string empty = Directory.CreateTempSubdirectory("engine-tokenize-").FullName;
        try
        {
            var (code, output, error) = Run("tokenize", "--model", empty, "hi");
            Assert.That(code, Is.EqualTo(1));
            Assert.That(output, Is.Empty);
            Assert.That(error, Does.StartWith("error: ").And.Contain("tokenizer"));
            Assert.That(error.TrimEnd('\n').Split('\n'), Has.Length.EqualTo(1));
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }
}
