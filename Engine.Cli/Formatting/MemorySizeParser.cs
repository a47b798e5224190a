using System.Globalization;
using Engine.Core;

namespace Engine.Cli.Formatting;

/// <summary>Parses memory sizes given on the command line: 1073741824, 512M, 2G, 1.5GiB, 64KB (binary units: K = 1024).</summary>
internal static class MemorySizeParser
{
    public static long Parse(string text, string flag)
    {
        string s = text.Trim();
        int split = s.Length;
        while (split > 0 && char.IsLetter(s[split - 1])) split--;
        string unit = s[split..].ToUpperInvariant();
        long multiplier = unit switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            "T" or "TB" or "TIB" => 1L << 40,
            _ => 0,
        };
        if (multiplier == 0 || !double.TryParse(s[..split], NumberStyles.Float, CultureInfo.InvariantCulture, out double value)
            || !(value > 0) || value * multiplier > long.MaxValue)
            throw new EngineException($"{flag}: '{text}' is not a memory size; use bytes or a number with K, M, G or T (e.g. 512M, 2G)");
        return (long)(value * multiplier);
    }
}
