namespace Engine.Models.Kv;

/// <summary>Host top-k for the baselines' rankings: the indices of the best scores, returned ascending.</summary>
public static class TopScores
{
    /// <summary>
    /// The <paramref name="count"/> indices in [0, scores.Length) with the largest scores, ascending;
    /// ties go to the lower index (as LagKV's selection).
    /// </summary>
    public static int[] Select(ReadOnlySpan<float> scores, int count)
    {
        if (count < 0 || count > scores.Length) throw new ArgumentOutOfRangeException(nameof(count));
        var order = new int[scores.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        float[] values = scores.ToArray();
        Array.Sort(order, (a, b) => values[a] != values[b] ? values[b].CompareTo(values[a]) : a.CompareTo(b));
        var chosen = order.AsSpan(0, count).ToArray();
        Array.Sort(chosen);
        return chosen;
    }
}
