using System.Text;
using System.Text.Json;

namespace Engine.Core.Text;

/// <summary>
/// Reads Llama 3's tiktoken-format <c>tokenizer.model</c> (one "base64-bytes rank" line per token)
/// into the same byte-level BPE that Llama 3's tokenizer.json describes: ranks become merges (a pair
/// merges with the rank of the token it forms), whole pre-tokens found in the vocabulary are kept
/// (ignore_merges), Llama 3's split regex, and its 256 special tokens from id 128000 (the file does not
/// list them; the names are those of Meta's Llama 3 reference tokenizer).
/// </summary>
internal static class TiktokenModelFile
{
    internal const string Llama3SplitPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly string[] NamedSpecialTokens =
    [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>", "<|end_header_id|>",
        "<|eom_id|>", "<|eot_id|>", "<|python_tag|>", "<|image|>",
    ];

    private const int SpecialTokenCount = 256;

    /// <summary>Whether the file looks like tiktoken's text format (its first line is "base64 number").</summary>
    public static bool Recognizes(string path)
    {
        using var reader = new StreamReader(path, Encoding.UTF8);
        var buffer = new char[256];
        int read = reader.ReadBlock(buffer, 0, buffer.Length);
        string start = new(buffer, 0, read);
        int newline = start.IndexOf('\n');
        if (newline < 0) return false;
        return TryParseLine(start[..newline], out _, out _);
    }

    public static TokenizerDefinition Read(string path)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            if (!TryParseLine(line, out byte[] bytes, out int rank))
                throw new EngineException($"{path}: line {lineNumber} is not \"base64 rank\"");
            vocab[ToByteLevel(bytes)] = rank;
        }
        if (vocab.Count == 0) throw new EngineException($"{path}: no tokens");

        var merges = new Dictionary<long, (int Rank, int Merged)>(vocab.Count * 2);
        var lookup = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var (token, rank) in vocab)
        {
            for (int split = 1; split < token.Length; split++)
            {
                if (lookup.TryGetValue(token.AsSpan(0, split), out int left) && lookup.TryGetValue(token.AsSpan(split), out int right))
                    merges.TryAdd(BpeModel.PairKey(left, right), (rank, rank));
            }
        }

        int firstSpecial = vocab.Values.Max() + 1;
        var added = new AddedToken[SpecialTokenCount];
        for (int i = 0; i < SpecialTokenCount; i++)
        {
            string name = i < NamedSpecialTokens.Length ? NamedSpecialTokens[i] : $"<|reserved_special_token_{i - NamedSpecialTokens.Length + 2}|>";
            added[i] = new AddedToken(firstSpecial + i, name, Special: true, LStrip: false, RStrip: false);
        }

        var model = new BpeModel(vocab, merges, unknownId: null, fuseUnknown: false, byteFallback: false, ignoreMerges: true);
        return new TokenizerDefinition(
            model,
            added,
            TextNormalizer.Identity,
            VocabMergesFiles.SplitThenByteLevel(Llama3SplitPattern),
            new SpecialTokenTemplate([firstSpecial], []),
            TokenDecoder.FromJson(Json("""{"type": "ByteLevel"}""")));
    }

    private static bool TryParseLine(string line, out byte[] bytes, out int rank)
    {
        bytes = [];
        rank = 0;
        int space = line.IndexOf(' ');
        if (space <= 0 || !int.TryParse(line.AsSpan(space + 1).TrimEnd('\r'), out rank)) return false;
        try { bytes = Convert.FromBase64String(line[..space]); }
        catch (FormatException) { return false; }
        return bytes.Length > 0;
    }

    private static string ToByteLevel(byte[] bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteLevelAlphabet.ToChar(bytes[i]);
        return new string(chars);
    }

    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;
}
