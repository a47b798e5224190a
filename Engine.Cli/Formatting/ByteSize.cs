using System.Globalization;

namespace Engine.Cli.Formatting;

/// <summary>Human-readable byte counts and parameter counts for tables and progress lines (decimal units, like the hub).</summary>
internal static class ByteSize
{
    public static string Format(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1000 && unit < units.Length - 1) { value /= 1000; unit++; }
        return unit == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }

    /// <summary>A parameter count as e.g. <c>494M</c> or <c>7.62B</c>.</summary>
    public static string FormatParameters(long parameters) =>
        parameters >= 1_000_000_000
            ? string.Create(CultureInfo.InvariantCulture, $"{parameters / 1e9:0.00}B")
            : string.Create(CultureInfo.InvariantCulture, $"{parameters / 1e6:0}M");
}
