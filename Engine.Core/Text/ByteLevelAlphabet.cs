namespace Engine.Core.Text;

/// <summary>
/// GPT-2's reversible byte-to-character map used by byte-level BPE: printable bytes stand for
/// themselves, the others are shifted to U+0100 and up so that every token is visible text
/// (a space becomes 'Ġ', a newline 'Ċ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] CharOfByte = BuildCharOfByte();
    private static readonly Dictionary<char, byte> ByteOfChar = BuildByteOfChar();

    /// <summary>The character standing for <paramref name="value"/>.</summary>
    public static char ToChar(byte value) => CharOfByte[value];

    /// <summary>The byte a character stands for, or false when it is not in the alphabet.</summary>
    public static bool TryToByte(char c, out byte value) => ByteOfChar.TryGetValue(c, out value);

    /// <summary>Maps the UTF-8 bytes of <paramref name="text"/> to alphabet characters.</summary>
    public static string Encode(ReadOnlySpan<char> text)
    {
        int byteCount = System.Text.Encoding.UTF8.GetByteCount(text);
        Span<byte> bytes = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        var chars = new char[byteCount];
        for (int i = 0; i < byteCount; i++) chars[i] = CharOfByte[bytes[i]];
        return new string(chars);
    }

    private static char[] BuildCharOfByte()
    {
        var map = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[b] = printable ? (char)b : (char)(256 + shifted++);
        }
        return map;
    }

    private static Dictionary<char, byte> BuildByteOfChar()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++) map[CharOfByte[b]] = (byte)b;
        return map;
    }
}
