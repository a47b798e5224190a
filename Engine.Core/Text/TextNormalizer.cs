using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Engine.Core.Text;

/// <summary>
/// tokenizer.json's <c>normalizer</c>: the chain of rewrites applied to each run of ordinary text
/// (between added tokens) before pre-tokenization. Supports NFC/NFKC/NFD/NFKD, Lowercase, Strip, Prepend,
/// Replace (string or regex) and Sequence, which covers Qwen2 (NFC) and Llama 2 (Prepend "▁",
/// Replace " " by "▁").
/// </summary>
internal sealed class TextNormalizer
{
    private readonly List<Func<string, string>> _steps = [];

    /// <summary>The normalizer that changes nothing (tokenizer.json's <c>"normalizer": null</c>).</summary>
    public static TextNormalizer Identity { get; } = new();

    public static TextNormalizer FromJson(JsonElement spec)
    {
        var normalizer = new TextNormalizer();
        if (spec.ValueKind != JsonValueKind.Null) normalizer.Add(spec);
        return normalizer;
    }

    public string Normalize(string text)
    {
        foreach (var step in _steps) text = step(text);
        return text;
    }

    private void Add(JsonElement spec)
    {
        string type = TokenizerJson.TypeOf(spec, "normalizer");
        switch (type)
        {
            case "Sequence":
                foreach (var child in TokenizerJson.Array(spec, "normalizers")) Add(child);
                break;
            case "NFC": _steps.Add(t => UnicodeNormalization.Normalize(t, NormalizationForm.FormC)); break;
            case "NFKC": _steps.Add(t => UnicodeNormalization.Normalize(t, NormalizationForm.FormKC)); break;
            case "NFD": _steps.Add(t => UnicodeNormalization.Normalize(t, NormalizationForm.FormD)); break;
            case "NFKD": _steps.Add(t => UnicodeNormalization.Normalize(t, NormalizationForm.FormKD)); break;
            case "Lowercase": _steps.Add(t => t.ToLowerInvariant()); break;
            case "Strip":
                bool left = TokenizerJson.Bool(spec, "strip_left", true), right = TokenizerJson.Bool(spec, "strip_right", true);
                _steps.Add(t => left && right ? t.Trim() : left ? t.TrimStart() : right ? t.TrimEnd() : t);
                break;
            case "Prepend":
                string prefix = TokenizerJson.String(spec, "prepend");
                _steps.Add(t => t.Length == 0 ? t : prefix + t);
                break;
            case "Replace":
                var pattern = TokenizerJson.Pattern(spec.GetProperty("pattern"));
                string content = TokenizerJson.String(spec, "content");
                _steps.Add(t => pattern.Replace(t, content.Replace("$", "$$")));
                break;
            default:
                throw new EngineException($"tokenizer.json: normalizer type '{type}' is not supported");
        }
    }
}
