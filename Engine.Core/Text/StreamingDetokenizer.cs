using System.Buffers;
using System.Text;

namespace Engine.Core.Text;

/// <summary>
/// Turns generated token ids into text as they arrive. <see cref="Push"/> returns the text that has
/// become complete UTF-8 with this token (possibly empty): a character split over several tokens
/// (byte-level BPE pieces, &lt;0xE2&gt; byte-fallback tokens) is held back until its last byte arrives,
/// so no replacement character appears mid-stream for such splits. Bytes that can never start a valid
/// character become U+FFFD exactly as <see cref="TextTokenizer.Decode"/> would render them.
/// <see cref="Flush"/> ends the stream and returns what is left (an unfinished character becomes
/// U+FFFD only then). The concatenation of all outputs equals <see cref="TextTokenizer.Decode"/> of the
/// same ids. Not thread-safe: one instance per stream.
/// </summary>
public sealed class StreamingDetokenizer
{
    private readonly TextTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly List<byte> _pending = [];
    private readonly bool _joinWithSpaces;
    private int _spacesToStrip;
    private bool _anyToken;

    internal StreamingDetokenizer(TextTokenizer tokenizer, bool skipSpecialTokens, int leadingSpacesToStrip, bool joinWithSpaces)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
        _spacesToStrip = leadingSpacesToStrip;
        _joinWithSpaces = joinWithSpaces;
    }

    /// <summary>Adds one token; returns the text completed by it. Ids outside the vocabulary add nothing.</summary>
    public string Push(int id)
    {
        if (_skipSpecialTokens && _tokenizer.IsSpecial(id)) return "";
        byte[]? bytes = _tokenizer.TokenBytes(id);
        if (bytes is null) return "";
        if (_joinWithSpaces && _anyToken) _pending.Add((byte)' ');
        _anyToken = true;
        foreach (byte b in bytes)
        {
            // Sentencepiece drops the space its normalizer put in front of the text.
            if (_spacesToStrip > 0)
            {
                if (b == (byte)' ') { _spacesToStrip--; continue; }
                _spacesToStrip = 0;
            }
            _pending.Add(b);
        }
        return Drain(endOfStream: false);
    }

    /// <summary>Ends the stream: returns the remaining text, with U+FFFD for an unfinished character.</summary>
    public string Flush() => Drain(endOfStream: true);

    private string Drain(bool endOfStream)
    {
        if (_pending.Count == 0) return "";
        ReadOnlySpan<byte> bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_pending);
        var text = new StringBuilder(bytes.Length);
        int position = 0;
        while (position < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[position..], out Rune rune, out int consumed);
            if (status == OperationStatus.NeedMoreData && !endOfStream) break;
            text.Append(status == OperationStatus.Done ? rune : Rune.ReplacementChar);
            position += consumed;
        }
        _pending.RemoveRange(0, position);
        return text.ToString();
    }
}
