namespace Engine.Server.Tools;

/// <summary>
/// Streams a reply that may hold tool calls: content passes through as it comes, except text that is
/// (or may become) a tool call, which is held until the reply ends and then parsed into calls.
/// </summary>
public sealed class ToolCallStream(ToolCallFormat format)
{
    private readonly System.Text.StringBuilder _held = new();
    private bool _capturing;
    private bool _sawContent;

    /// <summary>Adds generated text; returns the content that can be sent now.</summary>
    public string Push(string text)
    {
        if (_capturing)
        {
            _held.Append(text);
            return "";
        }
        _held.Append(text);
        string all = _held.ToString();
        if (format == ToolCallFormat.Llama31)
        {
            // A Llama 3.1 call is the whole reply: decide on its first non-blank character.
            string trimmed = all.TrimStart();
            if (trimmed.Length == 0 && !_sawContent) return "";
            if (!_sawContent && (trimmed.StartsWith('{') || trimmed.StartsWith('<'))) { _capturing = true; return ""; }
            _sawContent = true;
            _held.Clear();
            return all;
        }
        int open = all.IndexOf(ToolCallParser.QwenOpen, StringComparison.Ordinal);
        if (open >= 0)
        {
            _capturing = true;
            _held.Clear().Append(all[open..]);
            return all[..open].TrimEnd();
        }
        // Hold back a tail that could be the start of "<tool_call>", and the blank space before it
        // (a reply that turns into a call ends its content without it, as when parsed whole).
        int keep = PartialPrefix(all, ToolCallParser.QwenOpen);
        while (keep < all.Length && char.IsWhiteSpace(all[all.Length - keep - 1])) keep++;
        _held.Clear().Append(all[(all.Length - keep)..]);
        return all[..(all.Length - keep)];
    }

    /// <summary>The reply ended: the held text parsed into calls, or returned as content when it is not a call.</summary>
    public ToolCallParser.Result Finish()
    {
        string held = _held.ToString();
        _held.Clear();
        if (!_capturing) return new ToolCallParser.Result(held, []);
        return ToolCallParser.Parse(held, format);
    }

    private static int PartialPrefix(string text, string marker)
    {
        for (int n = Math.Min(marker.Length - 1, text.Length); n > 0; n--)
            if (text.AsSpan(text.Length - n).SequenceEqual(marker.AsSpan(0, n))) return n;
        return 0;
    }
}
