namespace Engine.Core.Hub;

/// <summary>
/// A registry entry's suggested LagKV settings: lag (partition) size L, sink size S and the per-partition
/// compression ratio (4 means "4x": keep floor(L / 4) tokens of each compressed partition).
/// </summary>
public sealed record LagKvRecommendation(int LagSize, int SinkSize, double Ratio)
{
    /// <summary>The fraction of each compressed partition kept (r in docs/lagkv.md).</summary>
    public double Retention => 1.0 / Ratio;

    /// <summary>Short form for tables, e.g. <c>L=1024 S=16 2x</c>.</summary>
    public override string ToString() => $"L={LagSize} S={SinkSize} {Ratio:0.##}x";
}
