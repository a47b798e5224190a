using System.Globalization;
using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>
/// Python's json.dumps as Hugging Face's `tojson` filter calls it: ensure_ascii=False, key order kept,
/// separators ", " / ": " (or "," / ": " with an indent), optional indent (a count or a string) and sort_keys.
/// </summary>
internal static class PyJson
{
    public static string Dumps(object? value, string? indent, string itemSeparator, string keySeparator, bool sortKeys)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSeparator, keySeparator, sortKeys, 0);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? value, string? indent, string itemSep, string keySep, bool sortKeys, int depth)
    {
        PyValues.CheckDepth(depth, "encoding a JSON object");
        switch (value)
        {
            case null: sb.Append("null"); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyValues.FloatRepr(d));
                break;
            case string s: WriteString(sb, s); break;
            case PyMarkup m: WriteString(sb, m.Text); break;
            case List<object?> list:
                WriteContainer(sb, '[', ']', list.Count, indent, itemSep, depth, i =>
                    Write(sb, list[i], indent, itemSep, keySep, sortKeys, depth + 1));
                break;
            case PyDict dict:
                {
                    var entries = dict.ToList();
                    if (sortKeys) entries.Sort((x, y) => PyOperators.Compare(KeyString(x.Key), KeyString(y.Key), "<"));
                    WriteContainer(sb, '{', '}', entries.Count, indent, itemSep, depth, i =>
                    {
                        WriteString(sb, KeyString(entries[i].Key));
                        sb.Append(keySep);
                        Write(sb, entries[i].Value, indent, itemSep, keySep, sortKeys, depth + 1);
                    });
                    break;
                }
            case Namespace ns:
                throw new TemplateError("Object of type Namespace is not JSON serializable");
            default:
                throw new TemplateError($"Object of type {PyValues.TypeName(value)} is not JSON serializable");
        }
    }

    private static void WriteContainer(StringBuilder sb, char open, char close, int count, string? indent, string itemSep, int depth, Action<int> writeItem)
    {
        sb.Append(open);
        if (count == 0) { sb.Append(close); return; }
        for (int i = 0; i < count; i++)
        {
            if (i > 0) sb.Append(itemSep);
            if (indent is not null) NewLine(sb, indent, depth + 1);
            writeItem(i);
        }
        if (indent is not null) NewLine(sb, indent, depth);
        sb.Append(close);
    }

    private static void NewLine(StringBuilder sb, string indent, int depth)
    {
        sb.Append('\n');
        for (int i = 0; i < depth; i++) sb.Append(indent);
    }

    // json.dumps turns int, float, bool and None keys into strings; other key types are an error.
    private static string KeyString(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => PyValues.FloatRepr(d),
        _ => throw new TemplateError($"keys must be str, int, float, bool or None, not {PyValues.TypeName(key)}"),
    };

    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
