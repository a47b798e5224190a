using System.Text;

namespace Engine.Models.Evaluation;

/// <summary>
/// The passkey prompt of the longctx_bench protocol LagKV's paper uses (docs/lagkv.md): the
/// instruction first, a haystack of N words with the needle "The pass key is X. Remember it. X is the
/// pass key." inserted after round(depth * N) words, and the question last. No chat template.
/// </summary>
public static class PasskeyPrompt
{
    public const string Instruction =
        "There is an important info hidden inside a lot of irrelevant text. Find it and memorize it. I will quiz you about the important information there.\n";
    public const string Question = "\nWhat is the pass key? The pass key is ";
    public const int KeyDigits = 64;

    public static string Needle(string key) => $"The pass key is {key}. Remember it. {key} is the pass key.";

    /// <summary>The prompt for a haystack of the first <paramref name="words"/> words of <paramref name="haystack"/> (repeated as needed).</summary>
    public static string Build(IReadOnlyList<string> haystack, int words, double depth, string key)
    {
        if (haystack.Count == 0) throw new ArgumentException("the haystack is empty", nameof(haystack));
        int insertAt = (int)Math.Round(Math.Clamp(depth, 0, 1) * words);
        var parts = new List<string>(words + 1);
        for (int i = 0; i < words; i++) parts.Add(haystack[i % haystack.Count]);
        parts.Insert(insertAt, Needle(key));
        return Instruction + string.Join(' ', parts) + Question;
    }

    /// <summary>A key of <see cref="KeyDigits"/> random decimal digits (the first one non-zero).</summary>
    public static string RandomKey(Random random)
    {
        var key = new StringBuilder(KeyDigits);
        key.Append((char)('1' + random.Next(9)));
        for (int i = 1; i < KeyDigits; i++) key.Append((char)('0' + random.Next(10)));
        return key.ToString();
    }
}
