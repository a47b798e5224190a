using System.Text.Json;
using System.Text.RegularExpressions;

namespace Engine.Core.Text;

/// <summary>
/// tokenizer.json's <c>pre_tokenizer</c>: splits normalized text into the words BPE runs on, and maps
/// them into the model's alphabet. Supports Split (regex or string; Isolated, Removed,
/// MergedWithPrevious, MergedWithNext; invert), ByteLevel (optional prefix space and GPT-2 regex),
/// Metaspace, Digits, Whitespace, WhitespaceSplit and Sequence: the Qwen2, Llama 3 and sentencepiece-style layouts.
/// </summary>
internal sealed class PreTokenizer
{
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>One step; atTextStart says whether the first piece begins the caller's whole input.</summary>
    private delegate List<string> Step(List<string> pieces, bool atTextStart);

    private readonly List<Step> _steps = [];

    public static PreTokenizer FromJson(JsonElement spec)
    {
        var preTokenizer = new PreTokenizer();
        if (spec.ValueKind != JsonValueKind.Null) preTokenizer.Add(spec);
        return preTokenizer;
    }

    /// <summary>The words of one normalized run of text, in the model's alphabet.</summary>
    public List<string> Split(string normalized, bool atTextStart)
    {
        var pieces = new List<string> { normalized };
        foreach (var step in _steps) pieces = step(pieces, atTextStart);
        pieces.RemoveAll(p => p.Length == 0);
        return pieces;
    }

    private void Add(JsonElement spec)
    {
        string type = TokenizerJson.TypeOf(spec, "pre_tokenizer");
        switch (type)
        {
            case "Sequence":
                foreach (var child in TokenizerJson.Array(spec, "pretokenizers")) Add(child);
                break;
            case "Split":
                var regex = TokenizerJson.Pattern(spec.GetProperty("pattern"));
                string behavior = TokenizerJson.String(spec, "behavior");
                bool invert = TokenizerJson.Bool(spec, "invert", false);
                if (behavior is not ("Isolated" or "Removed" or "MergedWithPrevious" or "MergedWithNext"))
                    throw new EngineException($"tokenizer.json: Split behavior '{behavior}' is not supported");
                _steps.Add((pieces, _) => SplitAll(pieces, regex, behavior, invert));
                break;
            case "ByteLevel":
                bool addPrefixSpace = TokenizerJson.Bool(spec, "add_prefix_space", false);
                bool useRegex = TokenizerJson.Bool(spec, "use_regex", true);
                Regex? gpt2 = useRegex ? new Regex(Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant) : null;
                _steps.Add((pieces, _) =>
                {
                    if (addPrefixSpace) pieces = pieces.Select(p => p.StartsWith(' ') ? p : " " + p).ToList();
                    if (gpt2 is not null) pieces = SplitAll(pieces, gpt2, "Isolated", false);
                    return pieces.Select(p => ByteLevelAlphabet.Encode(p)).ToList();
                });
                break;
            case "Digits":
                var digits = new Regex(TokenizerJson.Bool(spec, "individual_digits", false) ? @"\p{N}" : @"\p{N}+", RegexOptions.Compiled | RegexOptions.CultureInvariant);
                _steps.Add((pieces, _) => SplitAll(pieces, digits, "Isolated", false));
                break;
            case "Whitespace":
                var words = new Regex(@"\w+|[^\w\s]+", RegexOptions.Compiled | RegexOptions.CultureInvariant);
                _steps.Add((pieces, _) => SplitAll(pieces, words, "Removed", invert: true));
                break;
            case "WhitespaceSplit":
                var whitespace = new Regex(@"\s+", RegexOptions.Compiled | RegexOptions.CultureInvariant);
                _steps.Add((pieces, _) => SplitAll(pieces, whitespace, "Removed", false));
                break;
            case "Metaspace":
                AddMetaspace(spec);
                break;
            default:
                throw new EngineException($"tokenizer.json: pre_tokenizer type '{type}' is not supported");
        }
    }

    private void AddMetaspace(JsonElement spec)
    {
        string replacement = TokenizerJson.String(spec, "replacement");
        string scheme = spec.TryGetProperty("prepend_scheme", out var s) && s.ValueKind == JsonValueKind.String
            ? s.GetString()!
            : TokenizerJson.Bool(spec, "add_prefix_space", true) ? "always" : "never";
        bool split = TokenizerJson.Bool(spec, "split", true);
        var marker = new Regex(Regex.Escape(replacement), RegexOptions.CultureInvariant);
        _steps.Add((pieces, atTextStart) =>
        {
            var result = new List<string>(pieces.Count);
            for (int i = 0; i < pieces.Count; i++)
            {
                string piece = pieces[i].Replace(" ", replacement);
                bool prepend = scheme == "always" || (scheme == "first" && atTextStart && i == 0);
                if (prepend && !piece.StartsWith(replacement, StringComparison.Ordinal)) piece = replacement + piece;
                result.Add(piece);
            }
            return split ? SplitAll(result, marker, "MergedWithNext", false) : result;
        });
    }

    private static List<string> SplitAll(List<string> pieces, Regex regex, string behavior, bool invert)
    {
        var result = new List<string>(pieces.Count * 4);
        foreach (string piece in pieces) SplitOne(piece, regex, behavior, invert, result);
        return result;
    }

    private static void SplitOne(string piece, Regex regex, string behavior, bool invert, List<string> output)
    {
        // Cover the piece with alternating runs: matches of the pattern and the gaps between them.
        var runs = new List<(int Start, int Length, bool Delimiter)>();
        int position = 0;
        string subject = CodePointFolding.Fold(piece, out int[]? origin);
        for (var m = regex.Match(subject); m.Success; m = m.NextMatch())
        {
            if (m.Length == 0) continue;
            int start = origin is null ? m.Index : origin[m.Index];
            int end = origin is null ? m.Index + m.Length : origin[m.Index + m.Length];
            if (start > position) runs.Add((position, start - position, invert));
            runs.Add((start, end - start, !invert));
            position = end;
        }
        if (position < piece.Length) runs.Add((position, piece.Length - position, invert));

        if (behavior == "MergedWithNext") runs.Reverse();
        var pieceWords = new List<string>(runs.Count);
        bool previousWasDelimiter = false;
        foreach (var run in runs)
        {
            string text = piece.Substring(run.Start, run.Length);
            bool merge = (behavior is "MergedWithPrevious" or "MergedWithNext") && run.Delimiter && !previousWasDelimiter && pieceWords.Count > 0;
            if (merge) pieceWords[^1] = behavior == "MergedWithNext" ? text + pieceWords[^1] : pieceWords[^1] + text;
            else if (!(behavior == "Removed" && run.Delimiter)) pieceWords.Add(text);
            previousWasDelimiter = run.Delimiter;
        }
        if (behavior == "MergedWithNext") pieceWords.Reverse();
        output.AddRange(pieceWords);
    }
}
