using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Text;

/// <summary>
/// The tokenizer a GGUF file's <c>tokenizer.ggml.*</c> metadata describes, as the same definition the
/// engine builds from Hugging Face files: <c>llama</c> (sentencepiece BPE: tokens, scores, token
/// types, byte fallback, the "▁" space prefix) or <c>gpt2</c> (byte-level BPE: tokens and merges, the
/// split regex named by <c>tokenizer.ggml.pre</c>); BOS/EOS ids and the add-BOS/EOS flags.
/// </summary>
internal static class GgufVocabulary
{
    // llama.cpp's token types (the numbering of sentencepiece's piece types).
    private const int Control = 3, UserDefined = 4, ByteToken = 6;

    public static (TokenizerDefinition Definition, TokenizerConfigFile Config) Read(GgufMetadata m)
    {
        string model = m.GetString("tokenizer.ggml.model") ?? throw new EngineException($"{m.File}: no tokenizer (metadata key tokenizer.ggml.model is missing)");
        string[] tokens = m.GetArray<string>("tokenizer.ggml.tokens", "string")
                          ?? throw new EngineException($"{m.File}: metadata key tokenizer.ggml.tokens is missing");
        int[] types = m.GetArray<int>("tokenizer.ggml.token_type", "int32") ?? Enumerable.Repeat(1, tokens.Length).ToArray();
        if (types.Length != tokens.Length)
            throw new EngineException($"{m.File}: tokenizer.ggml.token_type has {types.Length} entries for {tokens.Length} tokens");
        int? Id(string key) => m.GetInteger(key) is long id && id >= 0 && id < tokens.Length ? (int)id : null;
        int? bos = Id("tokenizer.ggml.bos_token_id"), eos = Id("tokenizer.ggml.eos_token_id");

        TokenizerDefinition definition = model switch
        {
            "llama" => SentencePiece(m, tokens, types, bos),
            "gpt2" => ByteLevel(m, tokens, types),
            _ => throw new EngineException($"{m.File}: tokenizer.ggml.model {model} is not supported; supported: llama (sentencepiece BPE), gpt2 (byte-level BPE)"),
        };
        int[] extraEos = new[] { Id("tokenizer.ggml.eot_token_id"), Id("tokenizer.ggml.eom_token_id") }.OfType<int>().ToArray();
        var config = new TokenizerConfigFile(
            bos is int b ? tokens[b] : null,
            eos is int e ? tokens[e] : null,
            m.GetBool("tokenizer.ggml.add_bos_token") ?? model == "llama",
            m.GetBool("tokenizer.ggml.add_eos_token") ?? false,
            bos,
            extraEos);
        return (definition, config);
    }

    private static TokenizerDefinition SentencePiece(GgufMetadata m, string[] tokens, int[] types, int? bos)
    {
        float[] scores = m.GetArray<float>("tokenizer.ggml.scores", "float32") ?? new float[tokens.Length];
        if (scores.Length != tokens.Length)
            throw new EngineException($"{m.File}: tokenizer.ggml.scores has {scores.Length} entries for {tokens.Length} tokens");
        var pieces = tokens.Select((t, i) => new SentencePieceModelFile.Piece(t, scores[i], types[i])).ToList();
        // llama.cpp's defaults for sentencepiece vocabularies: a leading "▁", no whitespace folding, no NFKC.
        return SentencePieceModelFile.FromPieces(pieces, bos ?? -1, byteFallback: types.Contains(ByteToken), normalizerName: "identity",
            addDummyPrefix: m.GetBool("tokenizer.ggml.add_space_prefix") ?? true,
            removeExtraWhitespaces: m.GetBool("tokenizer.ggml.remove_extra_whitespaces") ?? false);
    }

    private static TokenizerDefinition ByteLevel(GgufMetadata m, string[] tokens, int[] types)
    {
        var vocab = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++) vocab.TryAdd(tokens[id], id);
        string[] mergeLines = m.GetArray<string>("tokenizer.ggml.merges", "string")
                              ?? throw new EngineException($"{m.File}: metadata key tokenizer.ggml.merges is missing (a gpt2 tokenizer needs its merges)");
        var merges = new MergeTable(vocab, mergeLines.Length, $"{m.File}: tokenizer.ggml.merges");
        foreach (string line in mergeLines)
        {
            int space = line.IndexOf(' ', 1);
            if (space < 0 || space == line.Length - 1) throw new EngineException($"{m.File}: tokenizer.ggml.merges entry '{line}' is not a pair of tokens");
            merges.Add(line.AsSpan(0, space), line.AsSpan(space + 1));
        }
        var added = Enumerable.Range(0, tokens.Length).Where(i => types[i] is Control or UserDefined)
            .Select(i => new AddedToken(i, tokens[i], Special: types[i] == Control, LStrip: false, RStrip: false)).ToArray();

        string pre = m.GetString("tokenizer.ggml.pre") ?? "default";
        var (normalizer, preTokenizer) = pre switch
        {
            "qwen2" => (TextNormalizer.FromJson(System.Text.Json.JsonDocument.Parse("""{"type": "NFC"}""").RootElement),
                VocabMergesFiles.SplitThenByteLevel(VocabMergesFiles.Qwen2SplitPattern)),
            "llama3" or "llama-v3" or "llama-bpe" => (TextNormalizer.Identity, VocabMergesFiles.SplitThenByteLevel(TiktokenModelFile.Llama3SplitPattern)),
            "default" or "gpt2" or "gpt-2" => (TextNormalizer.Identity, VocabMergesFiles.Gpt2ByteLevel(addPrefixSpace: false)),
            _ => throw new EngineException($"{m.File}: pre-tokenizer tokenizer.ggml.pre = {pre} is not supported; supported: qwen2, llama3 (llama-bpe), default (gpt2)"),
        };
        return VocabMergesFiles.ByteLevelBpe(vocab, merges.Merges, added, normalizer, preTokenizer, SpecialTokenTemplate.None);
    }
}
