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

    /// <summary>Parses `--lagkv`: `Nx` (N in 2..32, keep 1/N) or `r=F` (0 &lt; F &lt; 1, keep F).</summary>
    public static double ParseRetention(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t.EndsWith('x'))
        {
            if (!double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double factor)
                || !double.IsFinite(factor) || factor < MinFactor || factor > MaxFactor)
                throw new EngineException($"--lagkv '{text}': expected Nx with N between {MinFactor} and {MaxFactor} (e.g. 4x), or r=F with 0 < F < 1");
            return 1.0 / factor;
        }
        if (t.StartsWith("r="))
        {
            if (!double.TryParse(t[2..], NumberStyles.Float, CultureInfo.InvariantCulture, out double r)
                || !double.IsFinite(r) || r <= 0 || r >= 1)
                throw new EngineException($"--lagkv '{text}': the retention r must be a number with 0 < r < 1 (e.g. r=0.2)");
            return r;
        }
        throw new EngineException($"--lagkv '{text}': expected Nx (e.g. 4x, N from {MinFactor} to {MaxFactor}) or r=F (e.g. r=0.2)");
    }

    /// <summary>Parses `--lagkv-skip-layers`: comma-separated layer indices and ranges, e.g. `0,1,30-31`.</summary>
    public static IReadOnlySet<int> ParseSkipLayers(string? text)
    {
        var layers = new HashSet<int>();
        if (string.IsNullOrWhiteSpace(text)) return layers;
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] ends = part.Split('-', StringSplitOptions.TrimEntries);
            if (ends.Length is < 1 or > 2
                || !int.TryParse(ends[0], NumberStyles.None, CultureInfo.InvariantCulture, out int first)
                || !int.TryParse(ends[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int last)
                || last < first)
                throw new EngineException($"--lagkv-skip-layers '{text}': expected layer indices or ranges like 0,1,30-31");
            for (int layer = first; layer <= last; layer++) layers.Add(layer);
        }
        return layers;
    }

    /// <summary>Parses `--lagkv-mode`: reference or press.</summary>
    public static LagKvMode ParseMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        "reference" => LagKvMode.Reference,
        "press" => LagKvMode.Press,
        _ => throw new EngineException($"--lagkv-mode '{text}': expected reference or press"),
    };

    /// <summary>Checks the options against a model with <paramref name="layerCount"/> layers.</summary>
    public void Validate(int layerCount)
    {
        if (LagSize < 2) throw new EngineException($"--lag-size {LagSize}: the lag size must be at least 2");
        if (SinkSize < 0) throw new EngineException($"--sink-size {SinkSize}: the sink size cannot be negative");
        if (!(Retention > 0 && Retention < 1)) throw new EngineException($"LagKV retention {Retention} must be between 0 and 1");
        if (KeepPerPartition < 1)
            throw new EngineException($"--lagkv keeps floor({Retention.ToString(CultureInfo.InvariantCulture)} * {LagSize}) = 0 tokens per partition; raise --lag-size or the retention");
        if (!double.IsFinite(ValueWeight) || ValueWeight < 0) throw new EngineException($"LagKV value weight {ValueWeight} must be a finite non-negative number");
        foreach (int layer in SkipLayers)
            if (layer < 0 || layer >= layerCount)
                throw new EngineException($"--lagkv-skip-layers: layer {layer} does not exist (the model has {layerCount} layers, 0..{layerCount - 1})");
    }
}
