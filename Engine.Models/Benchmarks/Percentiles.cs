using System.Text.Json.Nodes;

namespace Engine.Models.Benchmarks;

/// <summary>The median and 99th percentile of a set of latencies (nearest rank).</summary>
public readonly record struct Percentiles(double P50, double P99)
{
    public static Percentiles Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) return new Percentiles(0, 0);
        var sorted = values.Order().ToArray();
        double Rank(double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Percentiles(Rank(0.50), Rank(0.99));
    }

    public JsonObject ToJson() => new() { ["p50"] = P50, ["p99"] = P99 };
}
