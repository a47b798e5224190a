using System.Globalization;
using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>
/// Python semantics of template values. Values are: null (None), <see cref="Undefined"/>, bool, long, double,
/// string, <see cref="List{T}"/> / <see cref="PyTuple"/>, <see cref="PyDict"/>, <see cref="Namespace"/>,
/// <see cref="TemplateCallable"/> and <see cref="LoopContext"/>.
/// </summary>
internal static class PyValues
{
    public static bool IsTrue(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        PyMarkup m => m.Text.Length > 0,
        List<object?> list => list.Count > 0,
        PyDict dict => dict.Count > 0,
        _ => true,
    };

    /// <summary>Python's str(value), with Undefined rendering as "" (jinja2's default Undefined).</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        PyMarkup m => m.Text,
        Undefined => "",
        _ => Repr(value),
    };

    /// <summary>Python's repr(value).</summary>
    /// <summary>Nesting deeper than this in printed, compared or JSON-encoded data fails like Python's RecursionError.</summary>
    public const int MaxDataDepth = 500;

    public static string Repr(object? value)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, value, 0);
        return sb.ToString();
    }

    /// <summary>The longest string or list a template may build (repeat, padding, indent), so it cannot exhaust memory.</summary>
    public const long MaxBuiltLength = 1 << 26;

    /// <summary>The length as an int after checking it against <see cref="MaxBuiltLength"/>.</summary>
    public static int CheckSize(long length)
    {
        if (length > MaxBuiltLength) throw new TemplateError($"result too large ({length} items; the limit is {MaxBuiltLength})");
        return (int)Math.Max(0, length);
    }

    public static void CheckDepth(int depth, string action)
    {
        if (depth > MaxDataDepth) throw new TemplateError($"maximum recursion depth exceeded while {action}");
    }

    private static void AppendRepr(StringBuilder sb, object? value, int depth)
    {
        CheckDepth(depth, "getting the repr of an object");
        switch (value)
        {
            case null: sb.Append("None"); break;
            case Undefined: sb.Append("Undefined"); break;
            case bool b: sb.Append(b ? "True" : "False"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(FloatRepr(d)); break;
            case string s: AppendStringRepr(sb, s); break;
            case PyMarkup m: sb.Append("Markup("); AppendStringRepr(sb, m.Text); sb.Append(')'); break;
            case PyTuple tuple:
                sb.Append('(');
                AppendItems(sb, tuple, depth);
                if (tuple.Count == 1) sb.Append(',');
                sb.Append(')');
                break;
            case List<object?> list:
                sb.Append('[');
                AppendItems(sb, list, depth);
                sb.Append(']');
                break;
            case PyDict dict:
                sb.Append('{');
                bool first = true;
                foreach (var (k, v) in dict)
                {
                    if (!first) sb.Append(", ");
                    first = false;
                    AppendRepr(sb, k, depth + 1);
                    sb.Append(": ");
                    AppendRepr(sb, v, depth + 1);
                }
                sb.Append('}');
                break;
            case Namespace ns:
                sb.Append("<Namespace {");
                sb.Append(string.Join(", ", ns.Attributes.Select(kv => Repr(kv.Key) + ": " + Repr(kv.Value))));
                sb.Append("}>");
                break;
            case TemplateCallable f: sb.Append("<function ").Append(f.Name).Append('>'); break;
            case PyGenerator g: sb.Append("<generator object ").Append(g.Function).Append(" at 0x").Append(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(g).ToString("x12", CultureInfo.InvariantCulture)).Append('>'); break;
            default: sb.Append('<').Append(TypeName(value)).Append(" object>"); break;
        }
    }

    private static void AppendItems(StringBuilder sb, List<object?> items, int depth)
    {
        for (int i = 0; i < items.Count; i++)
        {
            if (i > 0) sb.Append(", ");
            AppendRepr(sb, items[i], depth + 1);
        }
    }

    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (var rune in s.EnumerateRunes())
        {
            int c = rune.Value;
            if (c == quote || c == '\\') sb.Append('\\').Append((char)c);
            else if (c == '\n') sb.Append("\\n");
            else if (c == '\r') sb.Append("\\r");
            else if (c == '\t') sb.Append("\\t");
            else if (IsPrintable(rune)) sb.Append(rune.ToString());
            else if (c <= 0xFF) sb.Append("\\x").Append(c.ToString("x2", CultureInfo.InvariantCulture));
            else if (c <= 0xFFFF) sb.Append("\\u").Append(c.ToString("x4", CultureInfo.InvariantCulture));
            else sb.Append("\\U").Append(c.ToString("x8", CultureInfo.InvariantCulture));
        }
        sb.Append(quote);
    }

    // Python's str.isprintable: everything but control, format, separator (except ' '), private and unassigned.
    private static bool IsPrintable(Rune rune)
    {
        if (rune.Value == ' ') return true;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.SpaceSeparator
                or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse
                or UnicodeCategory.OtherNotAssigned or UnicodeCategory.Surrogate => false,
            _ => true,
        };
    }

    /// <summary>Python's repr(float): the shortest round-trip digits, scientific below 1e-4 and from 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsInfinity(d)) return d > 0 ? "inf" : "-inf";
        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r.StartsWith('-');
        if (negative) r = r[1..];
        int exponentMark = r.IndexOfAny(['E', 'e']);
        int exponent = exponentMark >= 0 ? int.Parse(r[(exponentMark + 1)..], CultureInfo.InvariantCulture) : 0;
        string mantissa = exponentMark >= 0 ? r[..exponentMark] : r;
        int dot = mantissa.IndexOf('.');
        string digits = dot >= 0 ? mantissa.Remove(dot, 1) : mantissa;
        int pointPos = (dot >= 0 ? dot : mantissa.Length) + exponent; // digits[0..pointPos] is the integer part
        int leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        string sign = negative ? "-" : "";
        if (digits.Length == 0) return sign + "0.0";
        pointPos -= leadingZeros;
        int sciExponent = pointPos - 1;
        if (sciExponent < -4 || sciExponent >= 16)
        {
            string m = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            string e = Math.Abs(sciExponent).ToString("00", CultureInfo.InvariantCulture);
            return $"{sign}{m}e{(sciExponent < 0 ? '-' : '+')}{e}";
        }
        if (pointPos <= 0) return sign + "0." + new string('0', -pointPos) + digits;
        if (pointPos >= digits.Length) return sign + digits + new string('0', pointPos - digits.Length) + ".0";
        return sign + digits[..pointPos] + "." + digits[pointPos..];
    }

    /// <summary>Python's type name, as TypeErrors print it.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        PyMarkup => "Markup",
        PyTuple => "tuple",
        List<object?> => "list",
        PyDict => "dict",
        Namespace => "Namespace",
        TemplateCallable => "function",
        LoopContext => "LoopContext",
        PyGenerator => "generator",
        _ => value.GetType().Name,
    };

    /// <summary>jinja2's object_type_repr, used in its undefined messages ("dict object", "None").</summary>
    public static string ObjectTypeRepr(object? value) => value switch
    {
        null => "None",
        Namespace => "jinja2.utils.Namespace object",
        LoopContext => "jinja2.runtime.LoopContext object",
        _ => TypeName(value) + " object",
    };

    /// <summary>Python's len(); Undefined has length 0.</summary>
    public static long Length(object? value) => value switch
    {
        string s => PyStrings.Length(s),
        PyMarkup m => PyStrings.Length(m.Text),
        List<object?> list => list.Count,
        PyDict dict => dict.Count,
        Undefined => 0,
        Namespace ns => ns.Attributes.Count,
        _ => throw new TemplateError($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>Python iteration: list items, dict keys, string characters; Undefined is empty.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        List<object?> list => [.. list],
        PyDict dict => [.. dict.Keys],
        string s => [.. PyStrings.Characters(s)],
        PyMarkup m => [.. PyStrings.Characters(m.Text)],
        Undefined => [],
        PyGenerator g => g.Consume(),
        _ => throw new TemplateError($"'{TypeName(value)}' object is not iterable"),
    };

    public static bool IsIterable(object? value) => value is List<object?> or PyDict or string or PyMarkup or Undefined or PyGenerator;
}
