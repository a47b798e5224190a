using Engine.Core.Text;
using Engine.Tests.Support;

namespace Engine.Tests.Text.Tokenization;

/// <summary>
/// The shared test tokenizers, each loaded once per test run (loading a 150k vocabulary is the slow
/// part), and the llama.cpp vector files.
/// </summary>
internal static class TokenizerAssets
{
    private static readonly Dictionary<string, TextTokenizer> Loaded = new();

    /// <summary>The tokenizer of a folder under ../shared/assets (skips the test when absent).</summary>
    public static TextTokenizer Get(params string[] folder)
    {
        string path = SharedAssets.Require(folder);
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(path, out var tokenizer))
                Loaded[path] = tokenizer = TextTokenizer.Load(path);
            return tokenizer;
        }
    }

    public static TextTokenizer Qwen2 => Get("tokenizers", "qwen2.5");
    public static TextTokenizer Llama3 => Get("tokenizers", "llama3");
    public static TextTokenizer Llama2 => Get("tokenizers", "llama2");
    public static TextTokenizer Stories => Get("models", "stories260K");

    /// <summary>
    /// The 46 strings of a <c>*.inp</c> file with the ids of its <c>*.out</c> file. Each string is
    /// followed by "\n__ggml_vocab_test__\n" (also the last one); each .out line holds one string's ids.
    /// </summary>
    public static List<(string Text, int[] Ids)> Vectors(string name)
    {
        string input = File.ReadAllText(SharedAssets.Require("tokenizer-vectors", $"ggml-vocab-{name}.gguf.inp"));
        string[] lines = File.ReadAllLines(SharedAssets.Require("tokenizer-vectors", $"ggml-vocab-{name}.gguf.out"));
        const string separator = "\n__ggml_vocab_test__\n";
        if (!input.EndsWith(separator, StringComparison.Ordinal)) throw new InvalidDataException("vector input does not end with the separator");
        string[] texts = input[..^separator.Length].Split(separator);
        if (texts.Length != lines.Length) throw new InvalidDataException($"{texts.Length} strings but {lines.Length} id lines");
        return texts.Zip(lines, (text, line) =>
            (text, line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray())).ToList();
    }
}
