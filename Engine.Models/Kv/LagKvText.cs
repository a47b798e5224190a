using System.Globalization;
using Engine.Core;
using Engine.Core.Kv.LagKv;

namespace Engine.Models.Kv;

/// <summary>
/// The text forms of LagKV's settings, shared by every edge that reads them (the CLI's `--lagkv Nx|r=F`,
/// `--lagkv-skip-layers 0,1,30-31` and `--lagkv-mode reference|press`, the server's `kv_policy` object,
/// batch files); each message names the setting as the caller spells it. Core receives typed <see cref="LagKvOptions"/>.
/// </summary>
public static class LagKvText
{
    /// <summary>Parses a ratio as `--lagkv` (or `--ratios`) takes it: `Nx` (N in 2..32, keep 1/N) or `r=F` (0 &lt; F &lt; 1, keep F).</summary>
    public static double ParseRetention(string text, string flag = "--lagkv")
    {
        const double min = LagKvOptions.MinFactor, max = LagKvOptions.MaxFactor;
        string t = text.Trim().ToLowerInvariant();
        if (t.EndsWith('x'))
        {
            if (!double.TryParse(t[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double factor)
                || !double.IsFinite(factor) || factor < min || factor > max)
                throw new EngineException($"{flag} '{text}': expected Nx with N between {min} and {max} (e.g. 4x), or r=F with 0 < F < 1");
            return 1.0 / factor;
        }
        if (t.StartsWith("r="))
        {
            if (!double.TryParse(t[2..], NumberStyles.Float, CultureInfo.InvariantCulture, out double r)
                || !double.IsFinite(r) || r <= 0 || r >= 1)
                throw new EngineException($"{flag} '{text}': the retention r must be a number with 0 < r < 1 (e.g. r=0.2)");
            return r;
        }
        throw new EngineException($"{flag} '{text}': expected Nx (e.g. 4x, N from {min} to {max}) or r=F (e.g. r=0.2)");
    }

    /// <summary>Parses `--lagkv-skip-layers`: comma-separated layer indices and ranges, e.g. `0,1,30-31`.</summary>
    public static IReadOnlySet<int> ParseSkipLayers(string? text, string flag = "--lagkv-skip-layers")
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
                throw new EngineException($"{flag} '{text}': expected layer indices or ranges like 0,1,30-31");
            for (int layer = first; layer <= last; layer++) layers.Add(layer);
        }
        return layers;
    }

    /// <summary>Parses `--lagkv-mode`: reference or press.</summary>
    public static LagKvMode ParseMode(string text, string flag = "--lagkv-mode") => text.Trim().ToLowerInvariant() switch
    {
        "reference" => LagKvMode.Reference,
        "press" => LagKvMode.Press,
        _ => throw new EngineException($"{flag} '{text}': expected reference or press"),
    };
}
