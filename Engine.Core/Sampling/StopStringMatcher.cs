namespace Engine.Core.Sampling;

/// <summary>
/// Finds stop strings in streamed text, even when one spans several tokens. Text that could be the
/// start of a stop string is held back until it is known not to be; text from a stop string on is
/// never released.
/// </summary>
public sealed class StopStringMatcher
{
    private readonly string[] _stops;
    private string _pending = "";

    public StopStringMatcher(IEnumerable<string> stops)
    {
        _stops = stops.Where(s => s.Length > 0).Distinct().ToArray();
    }

    /// <summary>True once a stop string was seen; later pushes release nothing.</summary>
    public bool Stopped { get; private set; }
    /// <summary>The stop string that was matched, or null.</summary>
    public string? Matched { get; private set; }

    /// <summary>Adds decoded text; returns what can be shown now.</summary>
    public string Push(string text)
    {
        if (Stopped) return "";
        if (_stops.Length == 0) return text;
        _pending += text;

        int first = -1;
        foreach (string stop in _stops)
        {
            int at = _pending.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) { first = at; Matched = stop; }
        }
        if (first >= 0)
        {
            Stopped = true;
            string before = _pending[..first];
            _pending = "";
            return before;
        }

        int hold = LongestSuffixThatStartsAStop(_pending);
        string release = _pending[..^hold];
        _pending = _pending[^hold..];
        return release;
    }

    /// <summary>Releases held-back text at the end of generation (it did not become a stop string).</summary>
    public string Flush()
    {
        string rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }

    private int LongestSuffixThatStartsAStop(string text)
    {
        int best = 0;
        foreach (string stop in _stops)
        {
            for (int n = Math.Min(stop.Length - 1, text.Length); n > best; n--)
            {
                if (string.CompareOrdinal(text, text.Length - n, stop, 0, n) == 0) { best = n; break; }
            }
        }
        return best;
    }
}
