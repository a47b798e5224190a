using System.Text.Json;

namespace Engine.Core.Text;

/// <summary>
/// The ids tokenizer.json's <c>post_processor</c> puts around a single encoded text when special
/// tokens are requested: e.g. Llama 3's TemplateProcessing adds &lt;|begin_of_text|&gt; in front,
/// Qwen2's ByteLevel processor adds nothing.
/// </summary>
internal sealed record SpecialTokenTemplate(int[] Prefix, int[] Suffix)
{
    public static SpecialTokenTemplate None { get; } = new([], []);

    public static SpecialTokenTemplate FromJson(JsonElement spec)
    {
        if (spec.ValueKind == JsonValueKind.Null) return None;
        string type = TokenizerJson.TypeOf(spec, "post_processor");
        switch (type)
        {
            case "ByteLevel":
                return None; // only adjusts offsets
            case "Sequence":
                var parts = TokenizerJson.Array(spec, "processors").Select(FromJson).ToList();
                return new SpecialTokenTemplate(parts.SelectMany(p => p.Prefix).ToArray(), parts.SelectMany(p => p.Suffix).ToArray());
            case "TemplateProcessing":
                return FromTemplate(spec);
            case "BertProcessing" or "RobertaProcessing":
                return new SpecialTokenTemplate([PairId(spec, "cls")], [PairId(spec, "sep")]);
            default:
                throw new EngineException($"tokenizer.json: post_processor type '{type}' is not supported");
        }
    }

    private static SpecialTokenTemplate FromTemplate(JsonElement spec)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;
        foreach (var item in TokenizerJson.Array(spec, "single"))
        {
            if (item.TryGetProperty("Sequence", out _)) { seenSequence = true; continue; }
            if (!item.TryGetProperty("SpecialToken", out var special))
                throw new EngineException("tokenizer.json: TemplateProcessing item is neither SpecialToken nor Sequence");
            string name = TokenizerJson.String(special, "id");
            if (!spec.TryGetProperty("special_tokens", out var table) || !table.TryGetProperty(name, out var entry))
                throw new EngineException($"tokenizer.json: TemplateProcessing uses '{name}' but does not define its ids");
            var target = seenSequence ? suffix : prefix;
            foreach (var id in TokenizerJson.Array(entry, "ids")) target.Add(id.GetInt32());
        }
        return new SpecialTokenTemplate(prefix.ToArray(), suffix.ToArray());
    }

    private static int PairId(JsonElement spec, string name)
    {
        if (spec.TryGetProperty(name, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2)
            return pair[1].GetInt32();
        throw new EngineException($"tokenizer.json: post_processor field \"{name}\" is not a [token, id] pair");
    }
}
