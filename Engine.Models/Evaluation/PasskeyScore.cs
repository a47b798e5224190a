namespace Engine.Models.Evaluation;

/// <summary>Scores one passkey answer: exact match (the key appears in the answer) and partial match.</summary>
public static class PasskeyScore
{
    public static bool ExactMatch(string answer, string key) => answer.Contains(key, StringComparison.Ordinal);

    /// <summary>Length of the longest common substring of the answer and the key over the key's length (0..1).</summary>
    public static double PartialMatch(string answer, string key) => key.Length == 0 ? 0 : (double)LongestCommonSubstring(answer, key) / key.Length;

    public static int LongestCommonSubstring(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        int best = 0;
        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                current[j] = a[i - 1] == b[j - 1] ? previous[j - 1] + 1 : 0;
                best = Math.Max(best, current[j]);
            }
            (previous, current) = (current, previous);
        }
        return best;
    }
}
