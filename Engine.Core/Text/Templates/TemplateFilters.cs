using System.Globalization;
using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>
/// jinja2's built-in filters that chat templates use, plus Hugging Face's `tojson`
/// (json.dumps with ensure_ascii=False, indent, separators, sort_keys).
/// </summary>
internal static class TemplateFilters
{
    private static readonly HashSet<string> Names =
    [
        "abs", "attr", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "format",
        "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum",
        "title", "tojson", "trim", "unique", "upper", "wordcount",
    ];

    public static bool Exists(string name) => Names.Contains(name);

    public static object? Apply(string name, object? value, CallArguments a)
    {
        if (!Names.Contains(name)) throw new TemplateError($"No filter named '{name}'.");
        if (name is "safe" or "e" or "escape")
            return value is PyMarkup ? value : new PyMarkup(name == "safe" ? PyValues.Str(value) : PyMarkup.Escape(PyValues.Str(value)));
        value = PyMarkup.Plain(value);
        switch (name)
        {
            case "default" or "d":
                {
                    object? fallback = a.Get(0, "default_value", "");
                    bool boolean = PyValues.IsTrue(a.Get(1, "boolean", false));
                    return value is Undefined || (boolean && !PyValues.IsTrue(value)) ? fallback : value;
                }
            case "length" or "count": return PyValues.Length(value);
            case "trim": return PyStrings.Strip(PyValues.Str(value), a.Get(0, "chars") as string, true, true);
            case "upper": return PyValues.Str(value).ToUpperInvariant();
            case "lower": return PyValues.Str(value).ToLowerInvariant();
            case "title": return PyStrings.Title(PyValues.Str(value));
            case "capitalize": return PyStrings.Capitalize(PyValues.Str(value));
            case "string": return PyValues.Str(value);
            case "center":
                {
                    var center = PyMethods.TryGetAttribute(PyValues.Str(value), "center", out var m) ? (TemplateCallable)m! : null;
                    return center!.Invoke(new CallArguments([a.Get(0, "width", 80L)], new Dictionary<string, object?>()));
                }
            case "replace":
                {
                    PyMethods.TryGetAttribute(PyValues.Str(value), "replace", out var m);
                    var args = new List<object?> { a.Get(0, "old"), a.Get(1, "new") };
                    if (a.Has(2, "count") && a.Get(2, "count") is not null) args.Add(a.Get(2, "count"));
                    return ((TemplateCallable)m!).Invoke(new CallArguments(args, new Dictionary<string, object?>()));
                }
            case "format":
                return a.Keywords.Count > 0 && a.Positional.Count > 0
                    ? throw new TemplateError("can't handle positional and keyword arguments at the same time")
                    : PyFormat.Percent(PyValues.Str(value), a.Keywords.Count > 0
                        ? throw new TemplateError("format filter with keyword arguments is not supported")
                        : new PyTuple(a.Positional));
            case "wordcount": return CountWords(PyValues.Str(value));
            case "indent": return Indent(PyValues.Str(value), a);
            case "join":
                {
                    string separator = PyValues.Str(a.Get(0, "d", ""));
                    var items = PyValues.Iterate(value);
                    if (a.Get(1, "attribute") is { } attr) items = items.Select(x => Attribute(x, attr)).ToList();
                    return string.Join(separator, items.Select(PyValues.Str));
                }
            case "list": return PyValues.Iterate(value);
            case "first":
                {
                    var items = PyValues.Iterate(value);
                    return items.Count > 0 ? items[0] : new Undefined("No first item, sequence was empty.");
                }
            case "last":
                {
                    if (value is not (string or List<object?> or PyDict or Undefined))
                        throw new TemplateError($"'{PyValues.TypeName(value)}' object is not reversible");
                    var items = PyValues.Iterate(value);
                    return items.Count > 0 ? items[^1] : new Undefined("No last item, sequence was empty.");
                }
            case "reverse":
                if (value is string s) return string.Concat(PyStrings.CodePoints(s).Reverse());
                if (!PyValues.IsIterable(value)) throw new TemplateError("argument must be iterable");
                {
                    var items = PyValues.Iterate(value);
                    items.Reverse();
                    return items;
                }
            case "items":
                return new PyGenerator("do_items", Items(value));
            case "dictsort": return DictSort(value, a);
            case "sort": return Sort(PyValues.Iterate(value), a);
            case "unique": return new PyGenerator("do_unique", Unique(value, a));
            case "min" or "max":
                {
                    var items = PyValues.Iterate(value);
                    if (items.Count == 0) return new Undefined($"No aggregated item, sequence was empty.");
                    var sorted = Sort(items, new CallArguments([false, a.Get(0, "case_sensitive", false), a.Get(1, "attribute")], new Dictionary<string, object?>()));
                    return name == "min" ? sorted[0] : sorted[^1];
                }
            case "sum":
                {
                    object? total = a.Get(1, "start", 0L);
                    foreach (var item in PyValues.Iterate(value))
                        total = PyOperators.Add(total, a.Get(0, "attribute") is { } attr ? Attribute(item, attr) : item);
                    return total;
                }
            case "abs":
                return value switch
                {
                    long l => (object)checked(Math.Abs(l)),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new TemplateError($"bad operand type for abs(): '{PyValues.TypeName(value)}'"),
                };
            case "int":
                PyOperators.FailIfUndefined(value);
                return ToInt(value, a);
            case "float":
                PyOperators.FailIfUndefined(value);
                return ToFloat(value, a.Get(0, "default", 0.0));
            case "round": return Round(value, a);
            case "attr":
                return a.Get(0, "name") is string attrName ? PyOperators.GetAttribute(value, attrName)
                    : throw new TemplateError("attr filter needs a name");
            case "map": return Map(value, a);
            case "select" or "reject": return Select(value, a, name == "select", byAttribute: false);
            case "selectattr" or "rejectattr": return Select(value, a, name == "selectattr", byAttribute: true);
            case "tojson": return ToJson(value, a);
            default: throw new TemplateError($"No filter named '{name}'.");
        }
    }

    private static object? Attribute(object? item, object? path)
    {
        foreach (string part in PyValues.Str(path).Split('.'))
            item = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out long index)
                ? PyOperators.GetItem(item, index) : PyOperators.GetItem(item, part);
        return item;
    }

    private static IEnumerable<object?> Unique(object? value, CallArguments a)
    {
        bool caseSensitive = PyValues.IsTrue(a.Get(0, "case_sensitive", false));
        var seen = new List<object?>();
        foreach (var item in PyValues.Iterate(value))
        {
            object? key = a.Get(1, "attribute") is { } attr ? Attribute(item, attr) : item;
            if (!caseSensitive && key is string ks) key = ks.ToLowerInvariant();
            if (key is List<object?> and not PyTuple or PyDict) throw new TemplateError($"unhashable type: '{PyValues.TypeName(key)}'");
            if (seen.Any(x => PyOperators.AreEqual(x, key))) continue;
            seen.Add(key);
            yield return item;
        }
    }

    // jinja2 counts matches of the regex \w+ (letters, digits, underscore).
    private static long CountWords(string s)
    {
        long count = 0;
        bool inWord = false;
        foreach (char c in s)
        {
            bool word = char.IsLetterOrDigit(c) || c == '_' || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.NonSpacingMark or System.Globalization.UnicodeCategory.ConnectorPunctuation;
            if (word && !inWord) count++;
            inWord = word;
        }
        return count;
    }

    private static string Indent(string s, CallArguments a)
    {
        object? width = a.Get(0, "width", 4L);
        string indention = width is string w ? w : new string(' ', PyValues.CheckSize(width is long l ? l : 4));
        bool first = PyValues.IsTrue(a.Get(1, "first", false));
        bool blank = PyValues.IsTrue(a.Get(2, "blank", false));
        var lines = PyStrings.SplitLines(s + "\n").Cast<string>().ToList();
        string result;
        if (blank) result = string.Join("\n" + indention, lines);
        else
        {
            result = lines[0];
            if (lines.Count > 1)
                result += "\n" + string.Join("\n", lines.Skip(1).Select(line => line.Length > 0 ? indention + line : line));
        }
        return first ? indention + result : result;
    }

    private static List<object?> Sort(List<object?> items, CallArguments a)
    {
        bool reverse = PyValues.IsTrue(a.Get(0, "reverse", false));
        bool caseSensitive = PyValues.IsTrue(a.Get(1, "case_sensitive", false));
        object? attribute = a.Get(2, "attribute");
        object? Key(object? item)
        {
            object? k = attribute is null ? item : Attribute(item, attribute);
            return !caseSensitive && k is string s ? s.ToLowerInvariant() : k;
        }
        var keyed = items.Select(item => (Key: Key(item), Item: item)).ToList();
        var byKey = Comparer<(object? Key, object? Item)>.Create((x, y) => PyOperators.Compare(x.Key, y.Key, "<"));
        List<(object? Key, object? Item)> sorted;
        try
        {
            sorted = (reverse ? keyed.OrderDescending(byKey) : keyed.Order(byKey)).ToList();
        }
        catch (InvalidOperationException e) when (e.InnerException is TemplateError inner)
        {
            throw inner;
        }
        return sorted.Select(x => x.Item).ToList();
    }

    private static List<object?> DictSort(object? value, CallArguments a)
    {
        if (value is not PyDict dict)
        {
            PyOperators.FailIfUndefined(value);
            throw new TemplateError($"'{PyValues.TypeName(value)}' object has no attribute 'items'");
        }
        bool caseSensitive = PyValues.IsTrue(a.Get(0, "case_sensitive", false));
        object? by = a.Get(1, "by", "key");
        bool reverse = PyValues.IsTrue(a.Get(2, "reverse", false));
        int position = by switch
        {
            "key" => 0,
            "value" => 1,
            _ => throw new TemplateError("You can only sort by either \"key\" or \"value\""),
        };
        var pairs = dict.Select(kv => (object?)new PyTuple([kv.Key, kv.Value])).ToList();
        return Sort(pairs, new CallArguments([reverse, caseSensitive, (long)position], new Dictionary<string, object?>()));
    }

    private static object? ToInt(object? value, CallArguments a)
    {
        object? fallback = a.Get(0, "default", 0L);
        long numberBase = a.Get(1, "base", 10L) is long b ? b : 10;
        switch (value)
        {
            case long l: return l;
            case bool bo: return bo ? 1L : 0L;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : fallback;
            case string s:
                {
                    string t = PyStrings.Strip(s, null, true, true).Replace("_", "");
                    try
                    {
                        if (numberBase == 10 && long.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l10)) return l10;
                        if (numberBase != 10) return Convert.ToInt64(t, (int)numberBase);
                    }
                    catch (Exception e) when (e is FormatException or ArgumentException or OverflowException) { return fallback; }
                    return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double d2) && double.IsFinite(d2)
                        ? (long)Math.Truncate(d2) : fallback;
                }
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        double d => d,
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(PyStrings.Strip(s, null, true, true), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
        _ => fallback,
    };

    private static object? Round(object? value, CallArguments a)
    {
        double v = value is long or double or bool && ToFloat(value, null) is double d
            ? d : throw new TemplateError($"type {PyValues.TypeName(value)} doesn't define __round__ method");
        int precision = a.Get(0, "precision", 0L) is long p ? (int)p : 0;
        string method = PyValues.Str(a.Get(1, "method", "common"));
        if (method == "common" && value is long or bool && precision >= 0) return value is bool b ? (b ? 1L : 0L) : value; // Python's round(int, n) is that int
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => Math.Round(v, Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
            "ceil" => Math.Ceiling(v * scale) / scale,
            "floor" => Math.Floor(v * scale) / scale,
            _ => throw new TemplateError("method must be common, ceil or floor"),
        };
    }

    // jinja2's map/select/reject yield nothing for a falsy input (None included) and are lazy generators.
    private static IEnumerable<object?> Items(object? value)
    {
        if (value is Undefined) yield break;
        if (value is not PyDict dict) throw new TemplateError("Can only get item pairs from a mapping.");
        foreach (var (k, v) in dict) yield return new PyTuple([k, v]);
    }

    private static PyGenerator Map(object? value, CallArguments a) => new("sync_do_map", MapItems(value, a));

    private static IEnumerable<object?> MapItems(object? value, CallArguments a)
    {
        var items = PyValues.IsTrue(value) ? PyValues.Iterate(value) : [];
        if (a.Keywords.TryGetValue("attribute", out var attribute))
        {
            a.Keywords.TryGetValue("default", out var fallback);
            foreach (var x in items)
            {
                object? v = Attribute(x, attribute);
                yield return v is Undefined && a.Keywords.ContainsKey("default") ? fallback : v;
            }
            yield break;
        }
        if (a.Positional.Count == 0 || a.Positional[0] is not string filter) throw new TemplateError("map requires a filter argument");
        var rest = new CallArguments(a.Positional.Skip(1).ToList(), a.Keywords);
        foreach (var x in items) yield return Apply(filter, x, rest);
    }

    private static PyGenerator Select(object? value, CallArguments a, bool keep, bool byAttribute) =>
        new("select_or_reject", SelectItems(value, a, keep, byAttribute));

    private static IEnumerable<object?> SelectItems(object? value, CallArguments a, bool keep, bool byAttribute)
    {
        var items = PyValues.IsTrue(value) ? PyValues.Iterate(value) : [];
        int testIndex = byAttribute ? 1 : 0;
        object? attribute = byAttribute ? (a.Positional.Count > 0 ? a.Positional[0] : throw new TemplateError("missing parameter for attribute name")) : null;
        string? test = a.Positional.Count > testIndex ? a.Positional[testIndex] as string : null;
        var testArgs = new CallArguments(a.Positional.Skip(testIndex + 1).ToList(), a.Keywords);
        foreach (var item in items)
        {
            object? subject = byAttribute ? Attribute(item, attribute) : item;
            bool passed = test is null ? PyValues.IsTrue(subject) : TemplatePredicates.Test(test, subject, testArgs);
            if (passed == keep) yield return item;
        }
    }

    // Hugging Face's tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
    private static string ToJson(object? value, CallArguments a)
    {
        bool ensureAscii = PyValues.IsTrue(a.Get(0, "ensure_ascii", false));
        object? indentArg = a.Get(1, "indent");
        string? indent = indentArg switch
        {
            null => null,
            string s => s,
            long n => new string(' ', PyValues.CheckSize(n)),
            bool b => new string(' ', b ? 1 : 0),
            _ => throw new TemplateError($"tojson indent must be an integer or string, not {PyValues.TypeName(indentArg)}"),
        };
        string itemSeparator = indent is null ? ", " : ",", keySeparator = ": ";
        if (a.Get(2, "separators") is List<object?> { Count: 2 } separators)
        {
            itemSeparator = PyValues.Str(separators[0]);
            keySeparator = PyValues.Str(separators[1]);
        }
        bool sortKeys = PyValues.IsTrue(a.Get(3, "sort_keys", false));
        if (value is Undefined) throw new TemplateError("Object of type Undefined is not JSON serializable");
        string json = PyJson.Dumps(value, indent, itemSeparator, keySeparator, sortKeys);
        return ensureAscii ? EscapeNonAscii(json) : json;
    }

    private static string EscapeNonAscii(string json)
    {
        var sb = new StringBuilder(json.Length);
        foreach (char c in json)
            if (c < 0x80) sb.Append(c);
            else sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
        return sb.ToString();
    }
}
