using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Engine.Core.Text;

/// <summary>
/// tokenizer.json's <c>decoder</c>, reduced to what a stream needs: the bytes each token stands for
/// (byte-level characters mapped back to bytes, "▁" turned into a space, &lt;0xNN&gt; byte-fallback
/// tokens into their byte) and how many leading spaces the decoded text loses (sentencepiece's
/// Strip / Metaspace rule that removes the space the normalizer prepended).
/// </summary>
internal sealed class TokenDecoder
{
    private static readonly Regex ByteFallbackPattern = new("^<0x([0-9A-Fa-f]{2})>$", RegexOptions.CultureInvariant);

    private delegate string StringStep(string token);

    private readonly List<StringStep> _steps = [];
    private bool _byteFallback;
    private bool _byteLevel;
    private bool _fused;

    /// <summary>Spaces removed from the very start of a decoded text (at most this many, only spaces).</summary>
    public int LeadingSpacesToStrip { get; private set; }

    /// <summary>True when tokenizer.json has no decoder: Hugging Face then joins the tokens with spaces.</summary>
    public bool JoinsWithSpaces { get; private init; }

    public static TokenDecoder FromJson(JsonElement spec)
    {
        if (spec.ValueKind == JsonValueKind.Null) return new TokenDecoder { JoinsWithSpaces = true };
        var decoder = new TokenDecoder();
        decoder.Add(spec);
        return decoder;
    }

    /// <summary>The bytes of one token, given its vocabulary string (or an added token's content).</summary>
    public byte[] BytesOf(string token)
    {
        foreach (var step in _steps) token = step(token);
        if (_byteFallback)
        {
            var m = ByteFallbackPattern.Match(token);
            if (m.Success) return [Convert.ToByte(m.Groups[1].Value, 16)];
        }
        if (_byteLevel)
        {
            var bytes = new byte[token.Length];
            bool mapped = true;
            for (int i = 0; i < token.Length && mapped; i++) mapped = ByteLevelAlphabet.TryToByte(token[i], out bytes[i]);
            if (mapped) return bytes;
        }
        return Encoding.UTF8.GetBytes(token);
    }

    private void Add(JsonElement spec)
    {
        string type = TokenizerJson.TypeOf(spec, "decoder");
        switch (type)
        {
            case "Sequence":
                foreach (var child in TokenizerJson.Array(spec, "decoders")) Add(child);
                break;
            case "ByteLevel":
                _byteLevel = true;
                break;
            case "ByteFallback":
                _byteFallback = true;
                break;
            case "Fuse":
                _fused = true;
                break;
            case "Replace":
                var pattern = TokenizerJson.Pattern(spec.GetProperty("pattern"));
                string content = TokenizerJson.String(spec, "content");
                _steps.Add(t => pattern.Replace(t, content.Replace("$", "$$")));
                break;
            case "Strip":
                AddStrip(spec);
                break;
            case "Metaspace":
                string replacement = TokenizerJson.String(spec, "replacement");
                _steps.Add(t => t.Replace(replacement, " "));
                string scheme = spec.TryGetProperty("prepend_scheme", out var s) && s.ValueKind == JsonValueKind.String
                    ? s.GetString()!
                    : TokenizerJson.Bool(spec, "add_prefix_space", true) ? "always" : "never";
                if (scheme != "never") LeadingSpacesToStrip = 1;
                break;
            default:
                throw new EngineException($"tokenizer.json: decoder type '{type}' is not supported");
        }
    }

    private void AddStrip(JsonElement spec)
    {
        string content = TokenizerJson.String(spec, "content");
        int start = TokenizerJson.Int(spec, "start", 0);
        int stop = TokenizerJson.Int(spec, "stop", 0);
        if (content != " " || stop != 0)
            throw new EngineException("tokenizer.json: only the Strip decoder that removes leading spaces is supported");
        if (_fused)
        {
            LeadingSpacesToStrip = start; // after Fuse the whole text is one token
            return;
        }
        _steps.Add(t =>
        {
            int cut = 0;
            while (cut < start && cut < t.Length && t[cut] == ' ') cut++;
            return t[cut..];
        });
    }
}
