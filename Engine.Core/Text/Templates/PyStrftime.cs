using System.Globalization;
using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>Python's datetime.strftime in the C locale (English month and day names), as `strftime_now` uses it.</summary>
internal static class PyStrftime
{
    public static string Format(DateTime t, string format)
    {
        var sb = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length) { sb.Append(format[i]); continue; }
            // glibc flags, which Python's strftime passes through on Linux: '-' drops padding, '^' upper-cases.
            char flag = format[i + 1] is '-' or '^' && i + 2 < format.Length ? format[++i] : '\0';
            char spec = format[++i];
            string field = spec switch
            {
                'd' => t.Day.ToString("00", c),
                'm' => t.Month.ToString("00", c),
                'Y' => t.Year.ToString("0000", c),
                'y' => (t.Year % 100).ToString("00", c),
                'H' => t.Hour.ToString("00", c),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("00", c),
                'M' => t.Minute.ToString("00", c),
                'S' => t.Second.ToString("00", c),
                'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", c),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' or 'h' => c.DateTimeFormat.GetAbbreviatedMonthName(t.Month),
                'B' => c.DateTimeFormat.GetMonthName(t.Month),
                'a' => c.DateTimeFormat.GetAbbreviatedDayName(t.DayOfWeek),
                'A' => c.DateTimeFormat.GetDayName(t.DayOfWeek),
                'w' => ((int)t.DayOfWeek).ToString(c),
                'j' => t.DayOfYear.ToString("000", c),
                'e' => t.Day.ToString(c).PadLeft(2),
                'D' => t.ToString("MM'/'dd'/'yy", c),
                'F' => t.ToString("yyyy'-'MM'-'dd", c),
                'T' => t.ToString("HH':'mm':'ss", c),
                'R' => t.ToString("HH':'mm", c),
                'c' => t.ToString("ddd MMM ", c) + t.Day.ToString(c).PadLeft(2) + t.ToString(" HH':'mm':'ss yyyy", c),
                'x' => t.ToString("MM'/'dd'/'yy", c),
                'X' => t.ToString("HH':'mm':'ss", c),
                'z' or 'Z' => "",
                '%' => "%",
                _ => "%" + (flag == '\0' ? "" : flag.ToString()) + spec,
            };
            if (flag == '-' && field.Length > 1 && "dmHIMSjye".Contains(spec)) field = field.TrimStart('0', ' ').PadLeft(1, '0');
            if (flag == '^') field = field.ToUpperInvariant();
            sb.Append(field);
        }
        return sb.ToString();
    }
}
