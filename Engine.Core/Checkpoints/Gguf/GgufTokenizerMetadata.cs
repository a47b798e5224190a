using System.Text.Json;
using System.Text.RegularExpressions;
using Engine.Core.Config;
using Engine.Core.Text;
using Engine.Core.Text.Templates;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// The <c>tokenizer.*</c> metadata of a GGUF file written from a model: from a GGUF source, its own keys
/// copied; from a folder, its <c>tokenizer.json</c> as llama.cpp's converter writes it. Byte-level BPE
/// becomes <c>gpt2</c> (tokens, token types, merges, and <c>pre</c> named from the split regex);
/// sentencepiece-style BPE (byte fallback, "▁") becomes <c>llama</c>, whose scores rank the merges
/// (the score of a token is minus the rank of the merge that forms it, so llama.cpp's and the engine's
/// score-ordered merging give tokenizer.json's merge order). BOS/EOS ids, add-BOS and the chat template
/// come from the engine's own reading of the folder.
/// </summary>
public static partial class GgufTokenizerMetadata
{
    // llama.cpp's token types.
    private const int Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, ByteToken = 6;

    /// <summary>Adds the tokenizer and chat template of <paramref name="modelPath"/>; nothing when the model has no tokenizer (ids only).</summary>
    public static void AddTo(GgufFileWriter writer, string modelPath, ModelConfig config)
    {
        if (GgufModelPath.Find(modelPath) is string gguf)
        {
            using var source = GgufFile.Open(gguf);
            foreach (string key in source.Metadata.Keys.Where(k => k.StartsWith("tokenizer.", StringComparison.Ordinal)))
                writer.Add(key, source.Metadata[key]);
            return;
        }
        string json = Path.Combine(modelPath, "tokenizer.json");
        if (!File.Exists(json))
        {
            if (TextTokenizer.ExistsIn(modelPath))
                throw new EngineException($"{modelPath}: engine quantize writes the tokenizer from tokenizer.json, which this model lacks (it has tokenizer.model or vocab.json + merges.txt)");
            return;
        }
        var tokenizer = TextTokenizer.Load(modelPath);
        using var document = JsonDocument.Parse(File.ReadAllBytes(json), new JsonDocumentOptions { MaxDepth = 256 });
        AddVocabulary(writer, document.RootElement, config, json);

        var eos = config.EosTokenIds.Concat(tokenizer.EosIds.Order()).Distinct().ToList();
        if ((tokenizer.BosId ?? config.BosTokenId) is int bos) writer.Add("tokenizer.ggml.bos_token_id", (uint)bos);
        string[] eosKeys = ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"];
        for (int i = 0; i < Math.Min(eos.Count, eosKeys.Length); i++) writer.Add(eosKeys[i], (uint)eos[i]);
        writer.Add("tokenizer.ggml.add_bos_token", tokenizer.AddsBos);
        writer.Add("tokenizer.ggml.add_eos_token", false);
        if (ChatTemplate.Load(modelPath) is { } template) writer.Add("tokenizer.chat_template", template.Source);
    }

    private static void AddVocabulary(GgufFileWriter writer, JsonElement root, ModelConfig config, string path)
    {
        var model = root.GetProperty("model");
        var tokens = new string?[config.VocabSize];
        var types = new int[config.VocabSize];
        void Set(string token, int id, int type)
        {
            if (id < 0 || id >= tokens.Length)
                throw new EngineException($"{path}: token '{token}' has id {id}, outside the model's vocabulary of {tokens.Length} (its embedding rows)");
            tokens[id] = token;
            types[id] = type;
        }
        foreach (var entry in model.GetProperty("vocab").EnumerateObject()) Set(entry.Name, entry.Value.GetInt32(), Normal);

        bool byteLevel = Mentions(root, "pre_tokenizer", "ByteLevel") || Mentions(root, "decoder", "ByteLevel");
        bool sentencePiece = !byteLevel && (model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True
                                            || Mentions(root, "decoder", "▁") || Mentions(root, "pre_tokenizer", "Metaspace"));
        if (!byteLevel && !sentencePiece)
            throw new EngineException($"{path}: neither byte-level BPE nor sentencepiece-style BPE; engine quantize writes gpt2 and llama tokenizers only");
        if (sentencePiece)
        {
            for (int id = 0; id < tokens.Length; id++)
                if (tokens[id] is { } t && ByteTokenPattern().IsMatch(t)) types[id] = ByteToken;
            if (UnknownId(model, tokens) is int unknownId) types[unknownId] = Unknown;
        }
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var token in added.EnumerateArray())
            {
                string content = token.GetProperty("content").GetString()!;
                int id = token.GetProperty("id").GetInt32();
                bool special = token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                Set(content, id, special ? Control : UserDefined); // as the converter: a special unknown token too
            }
        for (int id = 0; id < tokens.Length; id++)
            if (tokens[id] is null) (tokens[id], types[id]) = ($"[PAD{id}]", Unused);

        string[] merges = ReadMerges(model);
        writer.Add("tokenizer.ggml.model", sentencePiece ? "llama" : "gpt2");
        writer.Add("tokenizer.ggml.pre", sentencePiece ? "default" : PreTokenizerName(root, path));
        writer.Add("tokenizer.ggml.tokens", tokens.Select(t => t!).ToArray());
        if (sentencePiece)
        {
            writer.Add("tokenizer.ggml.scores", MergeRankScores(tokens!, types, merges));
            writer.Add("tokenizer.ggml.add_space_prefix", Mentions(root, "normalizer", "Prepend") || PrependsInPreTokenizer(root));
            if (UnknownId(model, tokens!) is int unknownId) writer.Add("tokenizer.ggml.unknown_token_id", (uint)unknownId);
        }
        writer.Add("tokenizer.ggml.token_type", types);
        if (!sentencePiece) writer.Add("tokenizer.ggml.merges", merges);
    }

    /// <summary>Scores whose descending order is tokenizer.json's merge order: -(rank + 1) for the first merge forming a token, below every merge for other pieces.</summary>
    private static float[] MergeRankScores(string[] tokens, int[] types, string[] merges)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Length; id++) ids.TryAdd(tokens[id], id);
        var scores = new float[tokens.Length];
        var set = new bool[tokens.Length];
        for (int rank = 0; rank < merges.Length; rank++)
        {
            string merged = merges[rank].Replace(" ", "", StringComparison.Ordinal);
            if (ids.TryGetValue(merged, out int id) && !set[id]) (scores[id], set[id]) = (-(rank + 1), true);
        }
        for (int id = 0; id < tokens.Length; id++)
            if (!set[id] && types[id] == Normal && tokens[id].Length > 1) scores[id] = -(merges.Length + 1 + id);
        return scores;
    }

    private static int? UnknownId(JsonElement model, string?[] tokens) =>
        model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String && Array.IndexOf(tokens, unk.GetString()) is int id and >= 0
            ? id
            : null;

    private static string[] ReadMerges(JsonElement model)
    {
        if (!model.TryGetProperty("merges", out var merges) || merges.ValueKind != JsonValueKind.Array) return [];
        return merges.EnumerateArray().Select(m => m.ValueKind == JsonValueKind.Array ? $"{m[0].GetString()} {m[1].GetString()}" : m.GetString()!).ToArray();
    }

    /// <summary>llama.cpp's name of the split rules: qwen2, llama-bpe (Llama 3) or gpt-2, recognised by the Split regex.</summary>
    private static string PreTokenizerName(JsonElement root, string path)
    {
        var patterns = new List<string>();
        void Collect(JsonElement e)
        {
            if (e.ValueKind == JsonValueKind.Object)
            {
                if (e.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("Regex", out var r)) patterns.Add(r.GetString()!);
                foreach (var property in e.EnumerateObject()) Collect(property.Value);
            }
            else if (e.ValueKind == JsonValueKind.Array) foreach (var item in e.EnumerateArray()) Collect(item);
        }
        if (root.TryGetProperty("pre_tokenizer", out var pre)) Collect(pre);
        if (patterns.Count == 0) return "gpt-2";
        if (patterns is [var only] && only == VocabMergesFiles.Qwen2SplitPattern) return "qwen2";
        if (patterns is [var llama3] && llama3 == TiktokenModelFile.Llama3SplitPattern) return "llama-bpe";
        throw new EngineException($"{path}: the pre-tokenizer's split regex is none llama.cpp names here (known: Qwen2's, Llama 3's, GPT-2's byte level)");
    }

    private static bool PrependsInPreTokenizer(JsonElement root) =>
        root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object
        && pre.GetRawText() is var text && text.Contains("Metaspace", StringComparison.Ordinal)
        && !text.Contains("\"never\"", StringComparison.Ordinal) && !text.Contains("\"add_prefix_space\":false", StringComparison.Ordinal);

    private static bool Mentions(JsonElement root, string section, string word) =>
        root.TryGetProperty(section, out var value) && value.ValueKind != JsonValueKind.Null
        && JsonSerializer.Serialize(value).Contains(JsonSerializer.Serialize(word).Trim('"'), StringComparison.Ordinal);

    [GeneratedRegex("^<0x[0-9A-Fa-f]{2}>$")]
    private static partial Regex ByteTokenPattern();
}
