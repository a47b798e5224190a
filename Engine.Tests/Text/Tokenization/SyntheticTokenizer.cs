using System.Text.Json.Nodes;
using Engine.Core.Text;

namespace Engine.Tests.Text.Tokenization;

/// <summary>
/// Writes a small tokenizer.json (and optionally tokenizer_config.json) into a temporary folder so
/// that BPE rules can be tested on hand-made vocabularies without the shared assets.
/// </summary>
internal sealed class SyntheticTokenizer : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("engine-tokenizer-").FullName;

    public JsonObject Json { get; }

    public SyntheticTokenizer(string[] vocab, string[] merges)
    {
        var vocabJson = new JsonObject();
        for (int i = 0; i < vocab.Length; i++) vocabJson[vocab[i]] = i;
        Json = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(),
            ["normalizer"] = null,
            ["pre_tokenizer"] = null,
            ["post_processor"] = null,
            ["decoder"] = null,
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["unk_token"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocabJson,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode?)JsonValue.Create(m)).ToArray()),
            },
        };
    }

    public JsonObject Model => Json["model"]!.AsObject();

    public SyntheticTokenizer AddToken(int id, string content, bool special = true, bool lstrip = false, bool rstrip = false)
    {
        Json["added_tokens"]!.AsArray().Add(new JsonObject
        {
            ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = lstrip, ["rstrip"] = rstrip,
            ["normalized"] = false, ["special"] = special,
        });
        return this;
    }

    public TextTokenizer Load(JsonObject? tokenizerConfig = null)
    {
        File.WriteAllText(Path.Combine(Folder, "tokenizer.json"), Json.ToJsonString());
        if (tokenizerConfig is not null) File.WriteAllText(Path.Combine(Folder, "tokenizer_config.json"), tokenizerConfig.ToJsonString());
        return TextTokenizer.Load(Folder);
    }

    public void Dispose() => Directory.Delete(Folder, recursive: true);
}
