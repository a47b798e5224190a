namespace Engine.Core.Text;

/// <summary>
/// Cuts text into runs of ordinary text and added-token matches, leftmost match first and the longest
/// token where several start at the same place (as Hugging Face's added-vocabulary matcher does).
/// </summary>
internal sealed class AddedTokenSplitter
{
    /// <summary>A piece of the input: ordinary text (<see cref="TokenId"/> is null) or one added token.</summary>
    public readonly record struct Segment(int Start, int Length, int? TokenId);

    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    public List<Segment> Split(string text)
    {
        var segments = new List<Segment>();
        int textStart = 0; // start of the pending run of ordinary text
        int i = 0;
        while (i < text.Length)
        {
            AddedToken? match = _byFirstChar.Count == 0 ? null : LongestAt(text, i);
            if (match is null) { i++; continue; }
            int matchStart = i, matchEnd = i + match.Content.Length;
            if (match.LStrip)
                while (matchStart > textStart && char.IsWhiteSpace(text[matchStart - 1])) matchStart--;
            if (match.RStrip)
                while (matchEnd < text.Length && char.IsWhiteSpace(text[matchEnd])) matchEnd++;
            if (matchStart > textStart) segments.Add(new Segment(textStart, matchStart - textStart, null));
            segments.Add(new Segment(matchStart, matchEnd - matchStart, match.Id));
            textStart = i = matchEnd;
        }
        if (textStart < text.Length) segments.Add(new Segment(textStart, text.Length - textStart, null));
        return segments;
    }

    private AddedToken? LongestAt(string text, int position)
    {
        if (!_byFirstChar.TryGetValue(text[position], out var candidates)) return null;
        foreach (var token in candidates)
            if (text.AsSpan(position).StartsWith(token.Content, StringComparison.Ordinal))
                return token;
        return null;
    }
}
