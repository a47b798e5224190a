using System.Globalization;
using Engine.Models.Benchmarks;

namespace Engine.Cli.Formatting;

/// <summary>The KV rows of `engine bench`'s table: the cache at the end and, with a policy, the baseline beside it.</summary>
public static class KvBenchTable
{
    public static void Write(KvBenchReport report, string policyName, TextWriter o)
    {
        static string Mb(long n) => FormattableString.Invariant($"{n / 1e6:F2} MB");
        static string Rate(Spread s) => FormattableString.Invariant($"{s.Median:F1} tok/s");
        static string Share(double f) => f.ToString("P2", CultureInfo.InvariantCulture);
        var kv = report.Kv;
        List<(string, string)> rows = report.Baseline is { } baseline && report.BaselineKv is { } full
            ?
            [
                ("kv policy", policyName),
                ("kv at end", FormattableString.Invariant($"{Mb(kv.KvBytes)} vs {Mb(full.KvBytes)} full ({kv.CompressionRatio:F2}x fewer slots)")),
                ("compression time", FormattableString.Invariant($"{kv.CompressionPrefillMs:F1} ms in prefill ({Share(kv.CompressionShareOfPrefill)}), {kv.CompressionDecodeMs:F1} ms in decode ({Share(kv.CompressionShareOfDecode)})")),
                ("baseline prefill", Rate(baseline.PrefillTokensPerSecond)),
                ("baseline decode", Rate(baseline.DecodeTokensPerSecond)),
            ]
            : [("kv at end", Mb(kv.KvBytes))];
        // Aligned with the rows above it: their longest key, "time to first token", plus two spaces.
        int width = Math.Max("time to first token".Length + 2, rows.Max(row => row.Item1.Length) + 2);
        foreach (var (key, value) in rows) o.WriteLine(key.PadRight(width) + value);
    }
}
