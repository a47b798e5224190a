using System.Text.Json;

namespace Engine.Core.Text;

/// <summary>
/// The parts of a Hugging Face tokenizer.json, each built from its JSON section: the BPE model
/// (vocab and merges), the added tokens, normalizer, pre-tokenizer, post-processor and decoder.
/// </summary>
internal sealed record TokenizerDefinition(
    BpeModel Model, AddedToken[] AddedTokens, TextNormalizer Normalizer, PreTokenizer PreTokenizer,
    SpecialTokenTemplate Template, TokenDecoder Decoder)
{
    public static TokenizerDefinition FromJsonFile(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"tokenizer file {path} not found");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw new EngineException($"{path}: not valid JSON ({e.Message})");
        }
        using (document)
        {
            try
            {
                return FromJson(document.RootElement);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or KeyNotFoundException)
            {
                throw new EngineException($"{path}: malformed tokenizer.json ({e.Message})");
            }
        }
    }

    private static TokenizerDefinition FromJson(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model))
            throw new EngineException("tokenizer.json has no \"model\" section");
        var addedTokens = root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array
            ? added.EnumerateArray().Select(ReadAddedToken).ToArray()
            : [];
        return new TokenizerDefinition(
            ReadBpe(model),
            addedTokens,
            TextNormalizer.FromJson(Section(root, "normalizer")),
            PreTokenizer.FromJson(Section(root, "pre_tokenizer")),
            SpecialTokenTemplate.FromJson(Section(root, "post_processor")),
            TokenDecoder.FromJson(Section(root, "decoder")));
    }

    private static JsonElement Section(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) ? value : NullElement;

    /// <summary>Stands for an absent section, which means the same as an explicit null.</summary>
    private static readonly JsonElement NullElement = JsonDocument.Parse("null").RootElement;

    /// <summary>Ids index arrays sized by the largest id: refuse negative or absurd ones.</summary>
    private static int CheckId(int id, string token) =>
        id is >= 0 and < MaxTokenId ? id : throw new EngineException($"tokenizer.json: token '{token}' has id {id}, outside 0..{MaxTokenId - 1}");

    private const int MaxTokenId = 1 << 24;

    private static AddedToken ReadAddedToken(JsonElement token) => new(
        CheckId(token.GetProperty("id").GetInt32(), token.GetProperty("content").ToString()),
        TokenizerJson.String(token, "content"),
        TokenizerJson.Bool(token, "special", false),
        TokenizerJson.Bool(token, "lstrip", false),
        TokenizerJson.Bool(token, "rstrip", false));

    private static BpeModel ReadBpe(JsonElement model)
    {
        string type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "BPE";
        if (type != "BPE") throw new EngineException($"tokenizer.json: model type '{type}' is not supported (only BPE)");
        if (model.TryGetProperty("continuing_subword_prefix", out var prefix) && prefix.ValueKind == JsonValueKind.String && prefix.GetString()!.Length > 0
            || model.TryGetProperty("end_of_word_suffix", out var suffix) && suffix.ValueKind == JsonValueKind.String && suffix.GetString()!.Length > 0)
            throw new EngineException("tokenizer.json: BPE with continuing_subword_prefix or end_of_word_suffix is not supported");

        if (!model.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
            throw new EngineException("tokenizer.json: model has no \"vocab\" object");
        var vocab = new Dictionary<string, int>(vocabJson.EnumerateObject().Count(), StringComparer.Ordinal);
        foreach (var entry in vocabJson.EnumerateObject()) vocab[entry.Name] = CheckId(entry.Value.GetInt32(), entry.Name);

        var merges = new MergeTable(vocab,
            model.TryGetProperty("merges", out var list) && list.ValueKind == JsonValueKind.Array ? list.GetArrayLength() : 0, "tokenizer.json");
        foreach (var merge in TokenizerJson.Array(model, "merges"))
        {
            var (left, right) = SplitMerge(merge, out string text);
            merges.Add(text.AsSpan(left.Start, left.Length), text.AsSpan(right.Start, right.Length));
        }

        int? unknownId = null;
        if (model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String)
            unknownId = vocab.TryGetValue(unk.GetString()!, out int id) ? id : null;
        return new BpeModel(vocab, merges.Merges, unknownId,
            TokenizerJson.Bool(model, "fuse_unk", false),
            TokenizerJson.Bool(model, "byte_fallback", false),
            TokenizerJson.Bool(model, "ignore_merges", false));
    }

    /// <summary>
    /// A merge is "left right" (older files) or ["left", "right"] (newer ones); returns where the two
    /// tokens lie in <paramref name="text"/> (for the array form, the two joined by a space).
    /// </summary>
    private static (Stretch Left, Stretch Right) SplitMerge(JsonElement merge, out string text)
    {
        if (merge.ValueKind == JsonValueKind.String)
        {
            text = merge.GetString()!;
            int space = text.IndexOf(' ', 1);
            if (space > 0 && space < text.Length - 1) return (new Stretch(0, space), new Stretch(space + 1, text.Length - space - 1));
        }
        else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                 && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
        {
            string left = merge[0].GetString()!;
            text = left + " " + merge[1].GetString();
            return (new Stretch(0, left.Length), new Stretch(left.Length + 1, text.Length - left.Length - 1));
        }
        throw new EngineException($"tokenizer.json: merge {merge.GetRawText()} is not a pair of tokens");
    }

    /// <summary>A stretch of a merge string: start and length.</summary>
    private readonly record struct Stretch(int Start, int Length);
}
