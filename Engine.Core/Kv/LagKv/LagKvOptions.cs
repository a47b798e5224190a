using System.Globalization;

namespace Engine.Core.Kv.LagKv;

/// <summary>
/// LagKV's parameters: sink size S, lag (partition) size L, retention r (fraction of each compressed
/// partition kept), value-score weight, layers that keep a full cache, and the mode.
/// </summary>
public sealed record LagKvOptions
{
    public const int DefaultLagSize = 1024;
    public const int DefaultSinkSize = 16;
    public const double MinFactor = 2, MaxFactor = 32;

    /// <summary>Fraction of each compressed partition kept (r); `4x` means 0.25.</summary>
    public required double Retention { get; init; }
    public int LagSize { get; init; } = DefaultLagSize;
    public int SinkSize { get; init; } = DefaultSinkSize;
    public double ValueWeight { get; init; } = 1.0;
    public IReadOnlySet<int> SkipLayers { get; init; } = new HashSet<int>();
    public LagKvMode Mode { get; init; } = LagKvMode.Reference;

    /// <summary>k = floor(r * L), in double precision (r = 0.167, L = 1024 gives 171).</summary>
    public int KeepPerPartition => (int)Math.Floor(Retention * LagSize);

    /// <summary>Press mode's global compression ratio: the fraction of the sequence removed.</summary>
    public double PressCompressionRatio => 1.0 - Retention;

    public bool Compresses(int layer) => !SkipLayers.Contains(layer);

    /// <summary>The fewest tokens at which anything is compressed: S + 2L (a partition is scored against the next, complete one).</summary>
    public int FirstCompressionLength => SinkSize + 2 * LagSize;

    /// <summary>Checks the options against a model with <paramref name="layerCount"/> layers.</summary>
    public void Validate(int layerCount)
    {
        if (LagSize < 2) throw new EngineException($"LagKV lag size L = {LagSize}: it must be at least 2");
        if (SinkSize < 0) throw new EngineException($"LagKV sink size S = {SinkSize}: it cannot be negative");
        if (!(Retention > 0 && Retention < 1)) throw new EngineException($"LagKV retention {Retention} must be between 0 and 1");
        if (KeepPerPartition < 1)
            throw new EngineException($"LagKV keeps floor(r * L) = floor({Retention.ToString(CultureInfo.InvariantCulture)} * {LagSize}) = 0 tokens per partition; raise the lag size L or the retention r");
        if (!double.IsFinite(ValueWeight) || ValueWeight < 0) throw new EngineException($"LagKV value weight {ValueWeight} must be a finite non-negative number");
        foreach (int layer in SkipLayers)
            if (layer < 0 || layer >= layerCount)
                throw new EngineException($"LagKV skip layer {layer} does not exist (the model has {layerCount} layers, 0..{layerCount - 1})");
    }
}
