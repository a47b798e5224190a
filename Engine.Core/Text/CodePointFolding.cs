using System.Globalization;
using System.Text;

namespace Engine.Core.Text;

/// <summary>
/// Lets .NET's UTF-16 regex see code points as Hugging Face's regex engine does. A character outside
/// the Basic Multilingual Plane is two UTF-16 units of category "surrogate", so \p{L}, \p{N} and
/// counts like \p{N}{1,3} misjudge it; folding replaces each such code point with one BMP stand-in of
/// the same class (letter, number or other) and keeps where every folded unit came from.
/// </summary>
internal static class CodePointFolding
{
    private const char LetterStandIn = '\u3400';  // CJK ideograph: a letter with no case
    private const char NumberStandIn = '\u0660';  // Arabic-Indic digit zero
    private const char OtherStandIn = '\u2605';   // black star: a symbol

    /// <summary>
    /// The folded text; <paramref name="origin"/>[i] is the index in <paramref name="text"/> of folded
    /// unit i (one entry more for the end), or null when nothing needed folding.
    /// </summary>
    public static string Fold(string text, out int[]? origin)
    {
        origin = null;
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDBFF') < 0) return text;
        var folded = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                folded.Append(StandIn(Rune.GetUnicodeCategory(new Rune(text[i], text[i + 1]))));
                i += 2;
            }
            else
            {
                folded.Append(text[i]);
                i++;
            }
        }
        offsets.Add(text.Length);
        origin = offsets.ToArray();
        return folded.ToString();
    }

    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => LetterStandIn,
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => NumberStandIn,
        _ => OtherStandIn,
    };
}
