using System.Text.Json;

namespace Engine.Core.Text;

/// <summary>
/// Reads the older byte-level BPE layout, <c>vocab.json</c> + <c>merges.txt</c> with the added tokens
/// of tokenizer_config.json's <c>added_tokens_decoder</c>, into the tokenizer.json its transformers
/// class would build: Qwen2Tokenizer (NFC, Qwen2's split regex) or GPT-2's (its own regex,
/// <c>add_prefix_space</c> as configured). No special tokens are added around the text.
/// </summary>
internal static class VocabMergesFiles
{
    internal const string Qwen2SplitPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    public static bool ExistIn(string folder) =>
        File.Exists(Path.Combine(folder, "vocab.json")) && File.Exists(Path.Combine(folder, "merges.txt"));

    public static TokenizerDefinition Read(string folder, TokenizerConfigFile config)
    {
        string vocabPath = Path.Combine(folder, "vocab.json");
        Dictionary<string, int>? vocab;
        try
        {
            vocab = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(vocabPath));
        }
        catch (JsonException e)
        {
            throw new EngineException($"{vocabPath}: not a JSON object of token ids ({e.Message})");
        }
        if (vocab is null || vocab.Count == 0) throw new EngineException($"{vocabPath}: no tokens");
        if (vocab.Values.Any(id => id < 0)) throw new EngineException($"{vocabPath}: negative token id");
        vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);

        string mergesPath = Path.Combine(folder, "merges.txt");
        string[] lines = File.ReadAllLines(mergesPath);
        var merges = new MergeTable(vocab, lines.Length, mergesPath);
        foreach (string line in lines)
        {
            if (line.Length == 0 || line.StartsWith("#version", StringComparison.Ordinal)) continue;
            int space = line.IndexOf(' ', 1);
            if (space < 0 || space == line.Length - 1) throw new EngineException($"{mergesPath}: line '{line}' is not a pair of tokens");
            merges.Add(line.AsSpan(0, space), line.AsSpan(space + 1));
        }

        bool qwen2 = config.TokenizerClass is "Qwen2Tokenizer" or "Qwen2TokenizerFast";
        return ByteLevelBpe(vocab, merges.Merges, config.AddedTokens,
            qwen2 ? TextNormalizer.FromJson(Json("""{"type": "NFC"}""")) : TextNormalizer.Identity,
            qwen2 ? SplitThenByteLevel(Qwen2SplitPattern) : Gpt2ByteLevel(config.AddPrefixSpace), SpecialTokenTemplate.None);
    }

    /// <summary>A byte-level BPE tokenizer (GPT-2's byte-to-character alphabet, no unknown token).</summary>
    internal static TokenizerDefinition ByteLevelBpe(Dictionary<string, int> vocab, Dictionary<long, (int Rank, int Merged)> merges,
        AddedToken[] addedTokens, TextNormalizer normalizer, PreTokenizer preTokenizer, SpecialTokenTemplate template) =>
        new(new BpeModel(vocab, merges, unknownId: null, fuseUnknown: false, byteFallback: false, ignoreMerges: false),
            addedTokens, normalizer, preTokenizer, template, TokenDecoder.FromJson(Json("""{"type": "ByteLevel"}""")));

    /// <summary>Splits by a regex (Qwen2's, Llama 3's), then maps bytes to GPT-2's alphabet.</summary>
    internal static PreTokenizer SplitThenByteLevel(string pattern) => PreTokenizer.FromJson(Json($$"""
        {"type": "Sequence", "pretokenizers": [
          {"type": "Split", "pattern": {"Regex": {{JsonSerializer.Serialize(pattern)}}}, "behavior": "Isolated", "invert": false},
          {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]}
        """));

    /// <summary>GPT-2's own split regex with the byte-level mapping.</summary>
    internal static PreTokenizer Gpt2ByteLevel(bool addPrefixSpace) =>
        PreTokenizer.FromJson(Json($$"""{"type": "ByteLevel", "add_prefix_space": {{(addPrefixSpace ? "true" : "false")}}, "use_regex": true}"""));

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
