namespace Engine.Core.Text.Templates;

/// <summary>
/// Attributes of template values: Python's str, dict and list methods, namespace fields and `loop.*`.
/// Mutating list/dict methods are refused as jinja2's ImmutableSandboxedEnvironment refuses them.
/// </summary>
internal static class PyMethods
{
    private static readonly HashSet<string> MutatingMethods =
        ["append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem", "sort", "reverse"];

    public static bool TryGetAttribute(object? obj, string name, out object? value)
    {
        if (obj is Namespace ns) return ns.Attributes.TryGetValue(name, out value);
        value = obj switch
        {
            LoopContext loop => loop.GetAttribute(name),
            string s => StringMethod(s, name),
            PyDict d => DictMethod(d, name),
            List<object?> l => ListMethod(l, name),
            _ => null,
        };
        return value is not null;
    }

    private static TemplateCallable Method(string name, Func<CallArguments, object?> body) => new(name, body);

    private static object? Unsafe(object obj, string name) =>
        new Undefined($"access to attribute '{name}' of '{PyValues.TypeName(obj)}' object is unsafe.");

    private static string? OptionalString(CallArguments a, int i, string name) => a.Get(i, name) switch
    {
        null => null,
        string s => s,
        var v => throw new TemplateError($"{name} arg must be None or str, not {PyValues.TypeName(v)}"),
    };

    private static string RequireString(object? v, string method) =>
        v as string ?? throw new TemplateError($"must be str, not {PyValues.TypeName(v)}");

    private static long OptionalLong(CallArguments a, int i, string name, long fallback) => a.Get(i, name, fallback) switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        var v => throw new TemplateError($"'{PyValues.TypeName(v)}' object cannot be interpreted as an integer"),
    };

    private static bool AffixMatch(string s, object? affix, bool prefix, string method)
    {
        IEnumerable<object?> options = affix is PyTuple t ? t : [affix];
        foreach (var option in options)
        {
            string o = option as string ?? throw new TemplateError($"{method} first arg must be str or a tuple of str, not {PyValues.TypeName(option)}");
            if (prefix ? s.StartsWith(o, StringComparison.Ordinal) : s.EndsWith(o, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    private static object? StringMethod(string s, string name) => name switch
    {
        "strip" => Method(name, a => PyStrings.Strip(s, OptionalString(a, 0, "chars"), true, true)),
        "lstrip" => Method(name, a => PyStrings.Strip(s, OptionalString(a, 0, "chars"), true, false)),
        "rstrip" => Method(name, a => PyStrings.Strip(s, OptionalString(a, 0, "chars"), false, true)),
        "split" => Method(name, a => PyStrings.Split(s, OptionalString(a, 0, "sep"), OptionalLong(a, 1, "maxsplit", -1))),
        "rsplit" => Method(name, a => RightSplit(s, OptionalString(a, 0, "sep"), OptionalLong(a, 1, "maxsplit", -1))),
        "splitlines" => Method(name, _ => PyStrings.SplitLines(s)),
        "startswith" => Method(name, a => AffixMatch(s, a.Get(0, "prefix"), true, name)),
        "endswith" => Method(name, a => AffixMatch(s, a.Get(0, "suffix"), false, name)),
        "upper" => Method(name, _ => s.ToUpperInvariant()),
        "lower" => Method(name, _ => s.ToLowerInvariant()),
        "title" => Method(name, _ => PyStrings.Title(s)),
        "capitalize" => Method(name, _ => PyStrings.Capitalize(s)),
        "swapcase" => Method(name, _ => string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)))),
        "replace" => Method(name, a =>
        {
            string old = RequireString(a.Get(0, "old"), name), replacement = RequireString(a.Get(1, "new"), name);
            long count = OptionalLong(a, 2, "count", -1);
            return Replace(s, old, replacement, count);
        }),
        "find" => Method(name, a => (long)s.IndexOf(RequireString(a.Get(0, "sub"), name), StringComparison.Ordinal)),
        "rfind" => Method(name, a => (long)s.LastIndexOf(RequireString(a.Get(0, "sub"), name), StringComparison.Ordinal)),
        "index" => Method(name, a =>
        {
            int i = s.IndexOf(RequireString(a.Get(0, "sub"), name), StringComparison.Ordinal);
            return i >= 0 ? (long)i : throw new TemplateError("substring not found");
        }),
        "count" => Method(name, a => CountOccurrences(s, RequireString(a.Get(0, "sub"), name))),
        "join" => Method(name, a => string.Join(s, PyValues.Iterate(a.Get(0, "iterable")).Select(x =>
            x as string ?? throw new TemplateError($"sequence item: expected str instance, {PyValues.TypeName(x)} found")))),
        "isdigit" => Method(name, _ => s.Length > 0 && s.All(char.IsDigit)),
        "isnumeric" => Method(name, _ => s.Length > 0 && s.All(char.IsDigit)),
        "isalpha" => Method(name, _ => s.Length > 0 && s.All(char.IsLetter)),
        "isalnum" => Method(name, _ => s.Length > 0 && s.All(char.IsLetterOrDigit)),
        "isspace" => Method(name, _ => s.Length > 0 && s.All(PyStrings.IsSpace)),
        "islower" => Method(name, _ => s.Any(char.IsLower) && !s.Any(char.IsUpper)),
        "isupper" => Method(name, _ => s.Any(char.IsUpper) && !s.Any(char.IsLower)),
        "removeprefix" => Method(name, a =>
        {
            string p = RequireString(a.Get(0, "prefix"), name);
            return s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s;
        }),
        "removesuffix" => Method(name, a =>
        {
            string p = RequireString(a.Get(0, "suffix"), name);
            return p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s;
        }),
        "zfill" => Method(name, a => s.PadLeft(PyValues.CheckSize(Math.Max(s.Length, OptionalLong(a, 0, "width", 0))), '0')),
        "center" => Method(name, a => Center(s, PyValues.CheckSize(OptionalLong(a, 0, "width", 0)))),
        "ljust" => Method(name, a => s.PadRight(PyValues.CheckSize(Math.Max(s.Length, OptionalLong(a, 0, "width", 0))))),
        "rjust" => Method(name, a => s.PadLeft(PyValues.CheckSize(Math.Max(s.Length, OptionalLong(a, 0, "width", 0))))),
        "format" => Method(name, a => PyFormat.Format(s, a)),
        _ => null,
    };

    private static string Replace(string s, string old, string replacement, long count)
    {
        if (count < 0) return old.Length == 0 ? string.Join(replacement, ["", .. PyStrings.CodePoints(s), ""]) : s.Replace(old, replacement, StringComparison.Ordinal);
        var sb = new System.Text.StringBuilder();
        int from = 0;
        for (long n = 0; n < count && old.Length > 0; n++)
        {
            int at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0) break;
            sb.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
        }
        return sb.Append(s, from, s.Length - from).ToString();
    }

    private static long CountOccurrences(string s, string sub)
    {
        if (sub.Length == 0) return PyStrings.Length(s) + 1;
        long n = 0;
        for (int at = s.IndexOf(sub, StringComparison.Ordinal); at >= 0; at = s.IndexOf(sub, at + sub.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static string Center(string s, int width)
    {
        if (width <= s.Length) return s;
        int total = width - s.Length;
        int left = total / 2 + (total & width & 1);
        return new string(' ', left) + s + new string(' ', total - left);
    }

    private static List<object?> RightSplit(string s, string? separator, long maxSplit)
    {
        if (maxSplit < 0) return PyStrings.Split(s, separator, -1);
        if (separator is null)
        {
            var reversed = PyStrings.Split(new string(s.Reverse().ToArray()), null, maxSplit);
            reversed.Reverse();
            return reversed.Select(p => (object?)new string(((string)p!).Reverse().ToArray())).ToList();
        }
        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < maxSplit)
        {
            int at = end == 0 ? -1 : s.LastIndexOf(separator, end - 1, StringComparison.Ordinal);
            if (at < 0 || at + separator.Length > end) break;
            parts.Insert(0, s[(at + separator.Length)..end]);
            end = at;
        }
        parts.Insert(0, s[..end]);
        return parts;
    }

    private static object? DictMethod(PyDict d, string name) => name switch
    {
        "items" => Method(name, _ => d.Select(kv => (object?)new PyTuple([kv.Key, kv.Value])).ToList()),
        "keys" => Method(name, _ => d.Keys.Cast<object?>().ToList()),
        "values" => Method(name, _ => d.Values.ToList()),
        "get" => Method(name, a =>
        {
            object? key = a.Get(0, "key");
            return key is not null and not Undefined && d.TryGetValue(key, out var v) ? v : a.Get(1, "default");
        }),
        "copy" => Method(name, _ =>
        {
            var copy = new PyDict();
            foreach (var (k, v) in d) copy[k] = v;
            return copy;
        }),
        _ when MutatingMethods.Contains(name) => Unsafe(d, name),
        _ => null,
    };

    private static object? ListMethod(List<object?> l, string name) => name switch
    {
        "index" => Method(name, a =>
        {
            object? item = a.Get(0, "value");
            int i = l.FindIndex(x => PyOperators.AreEqual(x, item));
            return i >= 0 ? (long)i : throw new TemplateError($"{PyValues.Repr(item)} is not in list");
        }),
        "count" => Method(name, a => (long)l.Count(x => PyOperators.AreEqual(x, a.Get(0, "value")))),
        "copy" => Method(name, _ => l.ToList()),
        _ when MutatingMethods.Contains(name) => Unsafe(l, name),
        _ => null,
    };
}
