using System.Globalization;
using System.Text;

namespace Engine.Server.Metrics;

/// <summary>A Prometheus histogram of seconds with fixed buckets.</summary>
public sealed class Histogram(string name, string help, double[] bounds)
{
    private readonly long[] _counts = new long[bounds.Length + 1];
    private double _sum;
    private long _count;
    private readonly Lock _lock = new();

    public static readonly double[] LatencyBounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    public long Count { get { lock (_lock) return _count; } }

    public void Observe(double seconds)
    {
        int bucket = Array.FindIndex(bounds, b => seconds <= b);
        lock (_lock)
        {
            _counts[bucket < 0 ? bounds.Length : bucket]++;
            _sum += seconds;
            _count++;
        }
    }

    public void WriteTo(StringBuilder text)
    {
        lock (_lock)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            text.Append("# TYPE ").Append(name).Append(" histogram\n");
            long cumulative = 0;
            for (int i = 0; i < bounds.Length; i++)
            {
                cumulative += _counts[i];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"{bounds[i]}\"}} {cumulative}\n");
            }
            text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{le=\"+Inf\"}} {_count}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_sum {_sum}\n");
            text.Append(CultureInfo.InvariantCulture, $"{name}_count {_count}\n");
        }
    }
}
