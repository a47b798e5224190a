using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Models;
using Engine.Models.Benchmarks;
using Engine.Models.Generation;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine bench --concurrency 1,4,8,16`: for each level, that many requests at once through the
/// scheduler (<see cref="ConcurrencyBenchmark"/>): aggregate and per-sequence decode speed, prefill
/// speed, TTFT and inter-token latency percentiles, KV pages used; a table or one JSON object.
/// </summary>
internal static class BenchConcurrency
{
    public static IReadOnlyList<int> ParseLevels(string text)
    {
        var levels = new List<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            levels.Add(int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1
                ? n : throw new EngineException($"--concurrency '{text}': expected comma-separated levels >= 1, e.g. 1,4,8,16"));
        return levels.Count > 0 ? levels : throw new EngineException($"--concurrency '{text}': expected comma-separated levels >= 1, e.g. 1,4,8,16");
    }

    /// <summary>Runs every level on <paramref name="engine"/> (whose pool holds the largest) and prints the result; returns the JSON written.</summary>
    public static JsonObject Run(InferenceEngine engine, BenchSettings settings, IReadOnlyList<int> levels, KvPolicyChoice policy, PrefillSchedule prefill,
        bool asJson, TextWriter output)
    {
        if (!asJson)
            output.WriteLine($"{engine.Name} on {engine.Backend.Name}: {settings.PromptTokens} prompt + {settings.GenTokens} generated tokens per sequence, KV policy {policy.Name}, levels {string.Join(",", levels)}");
        var results = ConcurrencyBenchmark.Run(engine, settings, levels, new BenchWorkload { Prefill = prefill, KvPolicy = policy.Policy },
            r => { if (!asJson) output.WriteLine(FormattableString.Invariant($"  {r.Concurrency} sequences: {r.WallSeconds:F2} s")); });
        var json = new JsonObject
        {
            ["model"] = engine.Name,
            ["device"] = engine.Backend.Name,
            ["prompt_tokens"] = settings.PromptTokens,
            ["gen_tokens"] = settings.GenTokens,
            ["kv_policy"] = policy.Name,
            ["prefill_schedule"] = prefill.Description,
            ["levels"] = new JsonArray(results.Select(r => (JsonNode)r.ToJson()).ToArray()),
        };
        if (asJson) output.WriteLine(json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        else WriteTable(results, output);
        return json;
    }

    private static void WriteTable(IReadOnlyList<ConcurrencyLevelResult> results, TextWriter o)
    {
        string[] header = ["seqs", "decode tok/s", "e2e out tok/s", "per seq tok/s", "prefill tok/s", "ttft p50/p99 ms", "itl p50/p99 ms", "kv pages", "cpu ms/tok"];
        var rows = results.Select(r => new[]
        {
            r.Concurrency.ToString(CultureInfo.InvariantCulture),
            FormattableString.Invariant($"{r.AggregateDecodeTokensPerSecond:F1}"),
            FormattableString.Invariant($"{r.OutputTokensPerSecond:F1}"),
            FormattableString.Invariant($"{r.PerSequenceDecodeTokensPerSecond:F1}"),
            FormattableString.Invariant($"{r.PrefillTokensPerSecond:F1}"),
            FormattableString.Invariant($"{r.TtftMs.P50:F0} / {r.TtftMs.P99:F0}"),
            FormattableString.Invariant($"{r.InterTokenMs.P50:F1} / {r.InterTokenMs.P99:F1}"),
            FormattableString.Invariant($"{r.PeakKvPages} / {r.KvPageCount}"),
            FormattableString.Invariant($"{r.CpuSeconds * 1000 / Math.Max(1, r.OutputTokensPerSecond * r.WallSeconds):F2}"),
        }).ToList();
        int[] widths = header.Select((h, c) => Math.Max(h.Length, rows.Max(row => row[c].Length))).ToArray();
        o.WriteLine(string.Join("  ", header.Select((h, c) => h.PadLeft(widths[c]))));
        foreach (var row in rows) o.WriteLine(string.Join("  ", row.Select((v, c) => v.PadLeft(widths[c]))));
    }
}
