namespace Engine.Models.Benchmarks;

/// <summary>
/// Aggregate decode throughput in the steady state: tokens all streams received per second during the
/// spans where <c>concurrency</c> streams were decoding at once (each stream decodes from its first token
/// to its last). With one wave of N streams this is the window from the last first token to the first last
/// token; with more requests than clients the spans between a stream's end and its successor's first token
/// (a prefill) are left out. The same definition serves the in-process bench and the server load test.
/// </summary>
public static class SteadyDecodeRate
{
    /// <param name="arrivals">Per stream, the times its tokens arrived (any unit; the rate is per that unit), ascending.</param>
    /// <param name="tokensPerArrival">Per stream, tokens one arrival stands for (a server may send several tokens in one chunk); null: 1.</param>
    public static double Of(IReadOnlyList<IReadOnlyList<double>> arrivals, int concurrency, IReadOnlyList<double>? tokensPerArrival = null)
    {
        double Weight(int i) => tokensPerArrival?[i] ?? 1;
        var streams = Enumerable.Range(0, arrivals.Count).Where(i => arrivals[i].Count > 0).ToArray();
        if (streams.Length == 0) return 0;
        var points = streams.SelectMany(i => new[] { arrivals[i][0], arrivals[i][^1] }).Distinct().Order().ToArray();
        var full = new List<(double From, double To)>();
        for (int k = 0; k + 1 < points.Length; k++)
        {
            double a = points[k], b = points[k + 1];
            int active = streams.Count(i => arrivals[i][0] <= a && arrivals[i][^1] >= b);
            if (active < concurrency) continue;
            if (full.Count > 0 && full[^1].To == a) full[^1] = (full[^1].From, b);
            else full.Add((a, b));
        }
        double span = full.Sum(w => w.To - w.From);
        double tokens = streams.Sum(i => Weight(i) * arrivals[i].Count(t => full.Any(w => t > w.From && t <= w.To)));
        if (span > 0 && tokens > 0) return tokens / span;
        // No moment with every stream decoding: every token after a stream's first over the whole decode span.
        double whole = streams.Max(i => arrivals[i][^1]) - streams.Min(i => arrivals[i][0]);
        return streams.Sum(i => Weight(i) * (arrivals[i].Count - 1)) / Math.Max(1e-9, whole);
    }
}
