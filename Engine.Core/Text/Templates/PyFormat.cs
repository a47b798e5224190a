using System.Globalization;
using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>Python string formatting that templates use: `"%s" % x` and `"{}".format(x)` (plain fields only).</summary>
internal static class PyFormat
{
    public static string Percent(string format, object? args)
    {
        List<object?> values = args is PyTuple tuple ? tuple : [args];
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%') { sb.Append(c); continue; }
            if (++i >= format.Length) throw new TemplateError("incomplete format");
            char spec = format[i];
            if (spec == '%') { sb.Append('%'); continue; }
            if (next >= values.Count) throw new TemplateError("not enough arguments for format string");
            object? v = values[next++];
            sb.Append(spec switch
            {
                's' => PyValues.Str(v),
                'r' => PyValues.Repr(v),
                'd' or 'i' => v is long or bool ? PyValues.Repr(v is bool b ? (b ? 1L : 0L) : v)
                    : v is double d ? ((long)Math.Truncate(d)).ToString(CultureInfo.InvariantCulture)
                    : throw new TemplateError($"%{spec} format: a real number is required, not {PyValues.TypeName(v)}"),
                'f' => ToDouble(v).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw new TemplateError($"unsupported format character '{spec}'"),
            });
        }
        // Python treats a list or dict argument as a mapping, which may go unused without an error.
        bool mapping = args is PyDict || (args is List<object?> && args is not PyTuple);
        if (next < values.Count && !mapping) throw new TemplateError("not all arguments converted during string formatting");
        return sb.ToString();
    }

    public static string Format(string format, CallArguments args)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c == '{' && i + 1 < format.Length && format[i + 1] == '{') { sb.Append('{'); i++; continue; }
            if (c == '}' && i + 1 < format.Length && format[i + 1] == '}') { sb.Append('}'); i++; continue; }
            if (c != '{') { sb.Append(c); continue; }
            int close = format.IndexOf('}', i);
            if (close < 0) throw new TemplateError("Single '{' encountered in format string");
            string field = format[(i + 1)..close];
            object? value;
            if (field.Length == 0)
                value = auto < args.Positional.Count ? args.Positional[auto++] : throw new TemplateError("Replacement index out of range for positional args tuple");
            else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                value = index < args.Positional.Count ? args.Positional[index] : throw new TemplateError("Replacement index out of range for positional args tuple");
            else
                value = args.Keywords.TryGetValue(field, out var named) ? named : throw new TemplateError($"'{field}'");
            sb.Append(PyValues.Str(value));
            i = close;
        }
        return sb.ToString();
    }

    private static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateError($"must be real number, not {PyValues.TypeName(v)}"),
    };
}
