using System.Globalization;
using System.Text.Json.Nodes;

namespace Engine.Server.Bench;

/// <summary>Percentiles of one latency, in milliseconds.</summary>
public sealed record LatencySummary(double Mean, double P50, double P90, double P99)
{
    public static LatencySummary Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return new LatencySummary(0, 0, 0, 0);
        var sorted = values.Order().ToArray();
        return new LatencySummary(sorted.Average(), Percentile(sorted, 50), Percentile(sorted, 90), Percentile(sorted, 99));
    }

    /// <summary>Linear interpolation between closest ranks (numpy's default).</summary>
    public static double Percentile(double[] sorted, double p)
    {
        double rank = p / 100 * (sorted.Length - 1);
        int low = (int)Math.Floor(rank), high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    public JsonObject ToJson() => new() { ["mean"] = Math.Round(Mean, 3), ["p50"] = Math.Round(P50, 3), ["p90"] = Math.Round(P90, 3), ["p99"] = Math.Round(P99, 3) };
}

/// <summary>
/// A load test's results: throughput, TTFT / inter-token / end-to-end latency, failures.
/// <paramref name="DecodeTokensPerSecond"/> is the steady-state aggregate decode rate (tokens per second
/// while every client's stream was decoding; <see cref="Models.Benchmarks.SteadyDecodeRate"/>), the figure
/// `engine bench --concurrency` reports in-process; <see cref="OutputTokensPerSecond"/> is end to end (all
/// output tokens over the whole test, prefills and request turnarounds included).
/// <paramref name="ClientCpuSeconds"/> is the CPU time the load generator itself used; <paramref name="ServerCpuSeconds"/>
/// what the server process used meanwhile (its /metrics process_cpu_seconds_total; null when it has none).
/// </summary>
public sealed record LoadReport(LoadSettings Settings, string Model, double DurationSeconds, int Completed, int Failed,
    long OutputTokens, LatencySummary Ttft, LatencySummary Itl, LatencySummary E2e, IReadOnlyList<string> Errors,
    double DecodeTokensPerSecond = 0, double ClientCpuSeconds = 0, double? ServerCpuSeconds = null)
{
    public double RequestsPerSecond => DurationSeconds > 0 ? Completed / DurationSeconds : 0;
    public double OutputTokensPerSecond => DurationSeconds > 0 ? OutputTokens / DurationSeconds : 0;
    public double TotalTokensPerSecond => DurationSeconds > 0 ? (OutputTokens + (long)Completed * Settings.PromptTokens) / DurationSeconds : 0;

    public static LoadReport From(LoadSettings settings, string model, double seconds, IReadOnlyList<RequestTiming> timings, double clientCpuSeconds = 0,
        double? serverCpuSeconds = null)
    {
        var ok = timings.Where(t => t.Ok).ToArray();
        // A chunk may carry several tokens (text held back until a character or stop string completes): each counts its share.
        var arrivals = ok.Select(t => t.ArrivalsMs ?? []).ToArray();
        var perArrival = ok.Select((t, i) => arrivals[i].Count > 0 ? (double)t.OutputTokens / arrivals[i].Count : 1).ToArray();
        double decode = Models.Benchmarks.SteadyDecodeRate.Of(arrivals, settings.Concurrency, perArrival) * 1000;
        return new LoadReport(settings, model, seconds, ok.Length, timings.Count - ok.Length, ok.Sum(t => (long)t.OutputTokens),
            LatencySummary.Of(ok.Select(t => t.TtftMs).ToArray()), LatencySummary.Of(ok.SelectMany(t => t.ItlMs).ToArray()),
            LatencySummary.Of(ok.Select(t => t.E2eMs).ToArray()),
            timings.Where(t => !t.Ok).Select(t => t.Error ?? "unknown").Distinct().Take(5).ToArray(),
            decode, clientCpuSeconds, serverCpuSeconds);
    }

    public JsonObject ToJson() => new()
    {
        ["server"] = Settings.Server.ToString(),
        ["model"] = Model,
        ["concurrency"] = Settings.Concurrency,
        ["requests"] = Settings.Requests,
        ["prompt_tokens"] = Settings.PromptTokens,
        ["gen_tokens"] = Settings.GenTokens,
        ["completed"] = Completed,
        ["failed"] = Failed,
        ["duration_s"] = Math.Round(DurationSeconds, 3),
        ["request_throughput"] = Math.Round(RequestsPerSecond, 3),
        ["output_tokens_per_s"] = Math.Round(OutputTokensPerSecond, 2),
        ["total_tokens_per_s"] = Math.Round(TotalTokensPerSecond, 2),
        ["decode_tokens_per_s"] = Math.Round(DecodeTokensPerSecond, 2),
        ["client_cpu_s"] = Math.Round(ClientCpuSeconds, 3),
        ["server_cpu_s"] = ServerCpuSeconds is { } server ? Math.Round(server, 3) : (double?)null,
        ["ttft_ms"] = Ttft.ToJson(),
        ["itl_ms"] = Itl.ToJson(),
        ["e2e_ms"] = E2e.ToJson(),
        ["errors"] = new JsonArray(Errors.Select(e => (JsonNode)e).ToArray()),
    };

    public void WriteTable(TextWriter output)
    {
        var c = CultureInfo.InvariantCulture;
        output.WriteLine(string.Create(c, $"{Model} at {Settings.Server}: {Settings.Requests} requests, {Settings.Concurrency} concurrent, {Settings.PromptTokens} prompt + {Settings.GenTokens} generated tokens"));
        output.WriteLine(string.Create(c, $"  completed {Completed}, failed {Failed}, in {DurationSeconds:F2} s"));
        output.WriteLine(string.Create(c, $"  throughput: {RequestsPerSecond:F2} req/s, {OutputTokensPerSecond:F1} output tok/s end to end, {TotalTokensPerSecond:F1} total tok/s"));
        output.WriteLine(string.Create(c, $"  decode: {DecodeTokensPerSecond:F1} tok/s while all {Settings.Concurrency} streams decode (as `bench --concurrency` counts)"));
        output.WriteLine(string.Create(c, $"  load generator CPU: {ClientCpuSeconds:F2} s ({ClientCpuSeconds / Math.Max(1e-9, DurationSeconds):P0} of one core)"));
        if (ServerCpuSeconds is { } server)
            output.WriteLine(string.Create(c, $"  server CPU: {server:F2} s, {server * 1000 / Math.Max(1, OutputTokens):F2} ms per output token"));
        output.WriteLine("  latency (ms)      mean      p50      p90      p99");
        foreach (var (name, s) in new[] { ("TTFT", Ttft), ("ITL", Itl), ("end-to-end", E2e) })
            output.WriteLine(string.Create(c, $"  {name,-12} {s.Mean,9:F1} {s.P50,8:F1} {s.P90,8:F1} {s.P99,8:F1}"));
        foreach (string e in Errors) output.WriteLine($"  error: {e}");
    }
}
