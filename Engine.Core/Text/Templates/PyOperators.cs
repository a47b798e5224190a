using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>Python's operators on template values: arithmetic, comparison, `in`, subscripts and slices.</summary>
internal static class PyOperators
{
    private static bool IsNumber(object? v) => v is long or double or bool;
    private static bool IsInteger(object? v) => v is long or bool;
    private static long AsLong(object? v) => v is bool b ? (b ? 1 : 0) : (long)v!;
    private static double AsDouble(object? v) => v switch { bool b => b ? 1 : 0, long l => l, _ => (double)v! };

    private static TemplateError Unsupported(string op, object? a, object? b)
    {
        FailIfUndefined(a);
        FailIfUndefined(b);
        return new TemplateError($"unsupported operand type(s) for {op}: '{PyValues.TypeName(a)}' and '{PyValues.TypeName(b)}'");
    }

    public static void FailIfUndefined(object? v)
    {
        if (v is Undefined u) throw u.Fail();
    }

    public static object? Add(object? a, object? b)
    {
        if (a is PyMarkup || b is PyMarkup) return AddMarkup(a, b);
        if (IsInteger(a) && IsInteger(b)) return checked(AsLong(a) + AsLong(b));
        if (IsNumber(a) && IsNumber(b)) return AsDouble(a) + AsDouble(b);
        if (a is string sa && b is string sb) return sa + sb;
        if (a is string && b is not Undefined)
            throw new TemplateError($"can only concatenate str (not \"{PyValues.TypeName(b)}\") to str");
        if (a is PyTuple ta && b is PyTuple tb) return new PyTuple(ta.Concat(tb));
        if (a is List<object?> la && a is not PyTuple && b is List<object?> lb && b is not PyTuple) return la.Concat(lb).ToList();
        if (a is List<object?> && b is not Undefined)
        {
            string kind = a is PyTuple ? "tuple" : "list";
            throw new TemplateError($"can only concatenate {kind} (not \"{PyValues.TypeName(b)}\") to {kind}");
        }
        throw Unsupported("+", a, b);
    }

    // Markup + str escapes the str (markupsafe's __add__ / __radd__); the result stays Markup.
    private static object? AddMarkup(object? a, object? b)
    {
        static string? Html(object? v) => v switch { PyMarkup m => m.Text, string s => PyMarkup.Escape(s), _ => null };
        string? left = Html(a), right = Html(b);
        if (left is null || right is null) throw Unsupported("+", PyMarkup.Plain(a), PyMarkup.Plain(b));
        return new PyMarkup(left + right);
    }

    public static object? Subtract(object? a, object? b)
    {
        if (IsInteger(a) && IsInteger(b)) return checked(AsLong(a) - AsLong(b));
        if (IsNumber(a) && IsNumber(b)) return AsDouble(a) - AsDouble(b);
        throw Unsupported("-", a, b);
    }

    public static object? Multiply(object? a, object? b)
    {
        a = PyMarkup.Plain(a);
        b = PyMarkup.Plain(b);
        if (IsInteger(a) && IsInteger(b)) return checked(AsLong(a) * AsLong(b));
        if (IsNumber(a) && IsNumber(b)) return AsDouble(a) * AsDouble(b);
        if (a is string s && IsInteger(b)) return Repeat(s, AsLong(b));
        if (b is string s2 && IsInteger(a)) return Repeat(s2, AsLong(a));
        if (a is List<object?> list && IsInteger(b))
            return Enumerable.Repeat(list, CheckRepeat(list.Count, AsLong(b))).SelectMany(x => x).ToList();
        if (b is List<object?> list2 && IsInteger(a))
            return Enumerable.Repeat(list2, CheckRepeat(list2.Count, AsLong(a))).SelectMany(x => x).ToList();
        if ((a is string or List<object?>) && b is not Undefined)
            throw new TemplateError($"can't multiply sequence by non-int of type '{PyValues.TypeName(b)}'");
        if ((b is string or List<object?>) && a is not Undefined)
            throw new TemplateError($"can't multiply sequence by non-int of type '{PyValues.TypeName(a)}'");
        throw Unsupported("*", a, b);
    }

    private static string Repeat(string s, long times)
    {
        var sb = new StringBuilder();
        for (long i = 0, n = CheckRepeat(s.Length, times); i < n; i++) sb.Append(s);
        return sb.ToString();
    }

    // The repeat count, after checking that unit * times stays within what a template may build.
    private static int CheckRepeat(long unit, long times)
    {
        if (times <= 0 || unit == 0) return 0;
        if (times > PyValues.MaxBuiltLength / unit) throw new TemplateError($"result too large (the limit is {PyValues.MaxBuiltLength} items)");
        return (int)times;
    }

    public static object? Divide(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("/", a, b);
        if (AsDouble(b) == 0) throw new TemplateError(IsInteger(a) && IsInteger(b) ? "division by zero" : "float division by zero");
        return AsDouble(a) / AsDouble(b);
    }

    public static object? FloorDivide(object? a, object? b)
    {
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("//", a, b);
        if (AsDouble(b) == 0) throw new TemplateError(IsInteger(a) && IsInteger(b) ? "integer division or modulo by zero" : "float floor division by zero");
        if (IsInteger(a) && IsInteger(b))
        {
            long x = AsLong(a), y = AsLong(b);
            long q = x / y;
            if ((x % y != 0) && ((x < 0) != (y < 0))) q--;
            return q;
        }
        return Math.Floor(AsDouble(a) / AsDouble(b));
    }

    public static object? Modulo(object? a, object? b)
    {
        a = PyMarkup.Plain(a);
        b = PyMarkup.Plain(b);
        if (a is string format) return PyFormat.Percent(format, b);
        if (!IsNumber(a) || !IsNumber(b)) throw Unsupported("%", a, b);
        if (AsDouble(b) == 0) throw new TemplateError(IsInteger(a) && IsInteger(b) ? "integer modulo by zero" : "float modulo");
        if (IsInteger(a) && IsInteger(b))
        {
            long x = AsLong(a), y = AsLong(b);
            long r = x % y;
            if (r != 0 && ((r < 0) != (y < 0))) r += y;
            return r;
        }
        double dx = AsDouble(a), dy = AsDouble(b);
        double dr = dx % dy;
        if (dr != 0 && ((dr < 0) != (dy < 0))) dr += dy;
        return dr;
    }

    public static object? Power(object? a, object? b)
    {
        if (IsInteger(a) && IsInteger(b) && AsLong(b) >= 0)
        {
            long result = 1, x = AsLong(a);
            for (long i = 0; i < AsLong(b); i++) result = checked(result * x);
            return result;
        }
        if (IsNumber(a) && IsNumber(b)) return Math.Pow(AsDouble(a), AsDouble(b));
        throw Unsupported("**", a, b);
    }

    public static object? Negate(object? a) => a switch
    {
        long l => (object)checked(-l),
        bool b => b ? -1L : 0L,
        double d => -d,
        _ => throw BadUnary("-", a),
    };

    public static object? Plus(object? a) => a switch
    {
        long or double => a,
        bool b => (object)(b ? 1L : 0L),
        _ => throw BadUnary("+", a),
    };

    private static TemplateError BadUnary(string op, object? a)
    {
        FailIfUndefined(a);
        return new TemplateError($"bad operand type for unary {op}: '{PyValues.TypeName(a)}'");
    }

    /// <summary>Python ==. Undefined equals only Undefined.</summary>
    public static bool AreEqual(object? a, object? b) => AreEqual(a, b, 0);

    private static bool AreEqual(object? a, object? b, int depth)
    {
        if (a is not null && ReferenceEquals(a, b)) return true; // Python compares container items by identity first
        PyValues.CheckDepth(depth, "comparing objects");
        a = PyMarkup.Plain(a);
        b = PyMarkup.Plain(b);
        if (a is null || b is null) return a is null && b is null;
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? AsLong(a) == AsLong(b) : AsDouble(a) == AsDouble(b);
        if (a is string sa && b is string sb) return string.Equals(sa, sb, StringComparison.Ordinal);
        if (a is List<object?> la && b is List<object?> lb)
        {
            if ((a is PyTuple) != (b is PyTuple) || la.Count != lb.Count) return false;
            for (int i = 0; i < la.Count; i++)
                if (!AreEqual(la[i], lb[i], depth + 1)) return false;
            return true;
        }
        if (a is PyDict da && b is PyDict db)
        {
            if (da.Count != db.Count) return false;
            foreach (var (k, v) in da)
                if (!db.TryGetValue(k, out var other) || !AreEqual(v, other, depth + 1)) return false;
            return true;
        }
        return ReferenceEquals(a, b);
    }

    /// <summary>Python's ordering (&lt;, &lt;=, &gt;, &gt;=) as a sign; mixed types fail like Python.</summary>
    public static int Compare(object? a, object? b, string op) => Compare(a, b, op, 0);

    private static int Compare(object? a, object? b, string op, int depth)
    {
        PyValues.CheckDepth(depth, "comparing objects");
        a = PyMarkup.Plain(a);
        b = PyMarkup.Plain(b);
        if (IsNumber(a) && IsNumber(b))
            return IsInteger(a) && IsInteger(b) ? AsLong(a).CompareTo(AsLong(b)) : AsDouble(a).CompareTo(AsDouble(b));
        if (a is string sa && b is string sb) return CompareCodePoints(sa, sb);
        if (a is List<object?> la && b is List<object?> lb && (a is PyTuple) == (b is PyTuple))
        {
            for (int i = 0; i < Math.Min(la.Count, lb.Count); i++)
                if (!AreEqual(la[i], lb[i], depth + 1)) return Compare(la[i], lb[i], op, depth + 1);
            return la.Count.CompareTo(lb.Count);
        }
        FailIfUndefined(a);
        FailIfUndefined(b);
        throw new TemplateError($"'{op}' not supported between instances of '{PyValues.TypeName(a)}' and '{PyValues.TypeName(b)}'");
    }

    private static int CompareCodePoints(string a, string b)
    {
        var ea = a.EnumerateRunes();
        var eb = b.EnumerateRunes();
        while (true)
        {
            bool ha = ea.MoveNext(), hb = eb.MoveNext();
            if (!ha || !hb) return ha.CompareTo(hb);
            int c = ea.Current.Value.CompareTo(eb.Current.Value);
            if (c != 0) return c;
        }
    }

    /// <summary>Python's `item in container`.</summary>
    public static bool Contains(object? container, object? item)
    {
        container = PyMarkup.Plain(container);
        item = PyMarkup.Plain(item);
        switch (container)
        {
            case string s:
                if (item is not string sub)
                {
                    throw new TemplateError($"'in <string>' requires string as left operand, not {PyValues.TypeName(item)}");
                }
                return s.Contains(sub, StringComparison.Ordinal);
            case List<object?> list: return list.Any(x => AreEqual(x, item));
            case PyDict dict: return item is not null and not Undefined && dict.ContainsKey(item);
            case Undefined: return false;
            case PyGenerator g: return g.Consume().Any(x => AreEqual(x, item));
            case Namespace ns: return item is string name && ns.Attributes.ContainsKey(name);
            default: throw new TemplateError($"argument of type '{PyValues.TypeName(container)}' is not iterable");
        }
    }

    /// <summary>jinja2's subscript `obj[key]`: the item, else the attribute of that name, else Undefined.</summary>
    public static object? GetItem(object? obj, object? key)
    {
        obj = PyMarkup.Plain(obj);
        key = PyMarkup.Plain(key);
        switch (obj)
        {
            case Undefined u: throw u.Fail();
            case PyDict dict when key is not null and not Undefined && dict.TryGetValue(key, out var value): return value;
            case List<object?> list when key is long or bool:
                {
                    long i = AsLong(key);
                    if (i < 0) i += list.Count;
                    if (i >= 0 && i < list.Count) return list[(int)i];
                    break;
                }
            case string s when key is long or bool:
                {
                    string[] chars = PyStrings.HasSurrogates(s) ? PyStrings.CodePoints(s) : s.Select(c => c.ToString()).ToArray();
                    long i = AsLong(key);
                    if (i < 0) i += chars.Length;
                    if (i >= 0 && i < chars.Length) return chars[i];
                    break;
                }
        }
        if (key is string name && PyMethods.TryGetAttribute(obj, name, out var attribute)) return attribute;
        return Undefined.Attribute(obj, key);
    }

    /// <summary>jinja2's `obj.name`: the attribute (a method, a namespace field), else the item, else Undefined.</summary>
    public static object? GetAttribute(object? obj, string name)
    {
        obj = PyMarkup.Plain(obj);
        if (obj is Undefined u) throw u.Fail();
        if (PyMethods.TryGetAttribute(obj, name, out var attribute)) return attribute;
        if (obj is PyDict dict && dict.TryGetValue(name, out var value)) return value;
        return Undefined.Attribute(obj, name);
    }

    /// <summary>Python's `obj[start:stop:step]` on lists, tuples and strings.</summary>
    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        obj = PyMarkup.Plain(obj);
        long? Bound(object? v, string what) => v switch
        {
            null => null,
            long or bool => AsLong(v),
            _ => throw new TemplateError($"slice {what} must be an integer or None, not {PyValues.TypeName(v)}"),
        };
        long stepValue = Bound(step, "step") ?? 1;
        if (stepValue == 0) throw new TemplateError("slice step cannot be zero");
        List<object?> items = obj switch
        {
            List<object?> list => list,
            string s => [.. PyStrings.Characters(s)],
            Undefined u => throw u.Fail(),
            // jinja2 compiles slices to a plain Python subscript, so these fail rather than give Undefined.
            PyDict => throw new TemplateError("unhashable type: 'slice'"),
            _ => throw new TemplateError($"'{PyValues.TypeName(obj)}' object is not subscriptable"),
        };
        var picked = new List<object?>();
        long n = items.Count;
        long? a = Bound(start, "start"), b = Bound(stop, "stop");
        if (stepValue > 0)
        {
            long from = a is null ? 0 : Clamp(a.Value < 0 ? a.Value + n : a.Value, 0, n);
            long to = b is null ? n : Clamp(b.Value < 0 ? b.Value + n : b.Value, 0, n);
            for (long i = from; i < to; i += stepValue) picked.Add(items[(int)i]);
        }
        else
        {
            long from = a is null ? n - 1 : Clamp(a.Value < 0 ? a.Value + n : a.Value, -1, n - 1);
            long to = b is null ? -1 : Clamp(b.Value < 0 ? b.Value + n : b.Value, -1, n - 1);
            for (long i = from; i > to; i += stepValue) picked.Add(items[(int)i]);
        }
        return obj switch
        {
            string => string.Concat(picked.Cast<string>()),
            PyTuple => new PyTuple(picked),
            _ => picked,
        };
    }

    private static long Clamp(long v, long lo, long hi) => Math.Min(Math.Max(v, lo), hi);
}
