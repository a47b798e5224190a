using System.Text.Json;

namespace Engine.Core.Text;

/// <summary>
/// What the files beside tokenizer.json say about BOS and EOS: tokenizer_config.json's
/// <c>bos_token</c>, <c>eos_token</c> (a string or an AddedToken object), <c>add_bos_token</c> and
/// <c>add_eos_token</c>, and generation_config.json's <c>bos_token_id</c> / <c>eos_token_id</c>
/// (an id or a list). For folders holding vocab.json and merges.txt instead of tokenizer.json it also
/// gives <c>tokenizer_class</c>, <c>add_prefix_space</c> and the <c>added_tokens_decoder</c> table.
/// Absent files or fields are null / empty.
/// </summary>
internal sealed record TokenizerConfigFile(
    string? BosToken, string? EosToken, bool? AddBosToken, bool? AddEosToken, int? GenerationBosId, int[] GenerationEosIds)
{
    public string? TokenizerClass { get; init; }
    public bool AddPrefixSpace { get; init; }
    public AddedToken[] AddedTokens { get; init; } = [];

    public static TokenizerConfigFile Read(string folder)
    {
        string? bos = null, eos = null, tokenizerClass = null;
        bool addPrefixSpace = false;
        var addedTokens = new List<AddedToken>();
        bool? addBos = null, addEos = null;
        int? generationBos = null;
        var generationEos = new List<int>();

        using (var config = TryParse(Path.Combine(folder, "tokenizer_config.json")))
        {
            if (config is not null)
            {
                var root = config.RootElement;
                bos = TokenText(root, "bos_token");
                eos = TokenText(root, "eos_token");
                addBos = OptionalBool(root, "add_bos_token");
                addEos = OptionalBool(root, "add_eos_token");
                addPrefixSpace = OptionalBool(root, "add_prefix_space") ?? false;
                if (root.TryGetProperty("tokenizer_class", out var c) && c.ValueKind == JsonValueKind.String) tokenizerClass = c.GetString();
                if (root.TryGetProperty("added_tokens_decoder", out var table) && table.ValueKind == JsonValueKind.Object)
                    addedTokens.AddRange(table.EnumerateObject().Select(ReadAddedToken));
            }
        }
        using (var generation = TryParse(Path.Combine(folder, "generation_config.json")))
        {
            if (generation is not null)
            {
                var root = generation.RootElement;
                if (root.TryGetProperty("bos_token_id", out var b) && b.ValueKind == JsonValueKind.Number) generationBos = b.GetInt32();
                if (root.TryGetProperty("eos_token_id", out var e))
                {
                    if (e.ValueKind == JsonValueKind.Number) generationEos.Add(e.GetInt32());
                    else if (e.ValueKind == JsonValueKind.Array)
                        generationEos.AddRange(e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32()));
                }
            }
        }
        return new TokenizerConfigFile(bos, eos, addBos, addEos, generationBos, generationEos.ToArray())
        {
            TokenizerClass = tokenizerClass,
            AddPrefixSpace = addPrefixSpace,
            AddedTokens = addedTokens.ToArray(),
        };
    }

    private static AddedToken ReadAddedToken(JsonProperty entry)
    {
        if (!int.TryParse(entry.Name, out int id) || id < 0 || entry.Value.ValueKind != JsonValueKind.Object
            || !entry.Value.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
            throw new EngineException($"tokenizer_config.json: added_tokens_decoder entry '{entry.Name}' is not an id with a content");
        bool Flag(string name) => entry.Value.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
        return new AddedToken(id, content.GetString()!, Flag("special"), Flag("lstrip"), Flag("rstrip"));
    }

    private static JsonDocument? TryParse(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            var document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true });
            if (document.RootElement.ValueKind == JsonValueKind.Object) return document;
            document.Dispose();
            throw new EngineException($"{path}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new EngineException($"{path}: not valid JSON ({e.Message})");
        }
    }

    private static string? TokenText(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value)) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String)
            return content.GetString();
        return null;
    }

    private static bool? OptionalBool(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;
}
