namespace Engine.Core.Text.Templates;

/// <summary>jinja2's tests, used as `value is name(args)` and by the select/reject filters.</summary>
internal static class TemplatePredicates
{
    public static bool Test(string name, object? value, CallArguments args)
    {
        value = PyMarkup.Plain(value);
        object? Arg() => args.Positional.Count > 0 ? args.Positional[0]
            : args.Keywords.Count > 0 ? args.Keywords.Values.First()
            : throw new TemplateError($"test '{name}' needs an argument");
        return name switch
        {
            "defined" => value is not Undefined,
            "undefined" => value is Undefined,
            "none" => value is null,
            "boolean" => value is bool,
            "true" => value is true,
            "false" => value is false,
            "integer" => value is long,
            "float" => value is double,
            "number" => value is long or double or bool,
            "string" => value is string,
            "mapping" => value is PyDict,
            "iterable" => PyValues.IsIterable(value),
            "sequence" => value is string or List<object?> or PyDict or Undefined,
            "callable" => value is TemplateCallable or Undefined,
            "sameas" => IsSame(value, Arg()),
            "equalto" or "eq" or "==" => PyOperators.AreEqual(value, Arg()),
            "ne" or "!=" => !PyOperators.AreEqual(value, Arg()),
            "lt" or "lessthan" or "<" => PyOperators.Compare(value, Arg(), "<") < 0,
            "le" or "<=" => PyOperators.Compare(value, Arg(), "<=") <= 0,
            "gt" or "greaterthan" or ">" => PyOperators.Compare(value, Arg(), ">") > 0,
            "ge" or ">=" => PyOperators.Compare(value, Arg(), ">=") >= 0,
            "in" => PyOperators.Contains(Arg(), value),
            "odd" => AsInteger(value, name) % 2 != 0,
            "even" => AsInteger(value, name) % 2 == 0,
            "divisibleby" => AsInteger(value, name) % AsInteger(Arg(), name) == 0,
            "lower" => value is string s && s.ToLowerInvariant() == s,
            "upper" => value is string u && u.ToUpperInvariant() == u,
            "escaped" => false,
            "filter" => Arg() is string f && TemplateFilters.Exists(f),
            "test" => Arg() is string t && Exists(t),
            _ => throw new TemplateError($"No test named '{name}'."),
        };
    }

    public static bool Exists(string name)
    {
        try
        {
            Test(name, 0L, new CallArguments([0L], new Dictionary<string, object?>()));
            return true;
        }
        catch (TemplateError e) when (e.Detail.StartsWith("No test named", StringComparison.Ordinal))
        {
            return false;
        }
        catch (TemplateError)
        {
            return true;
        }
    }

    // Python's `is`: None, True and False are singletons; small ints are cached; everything else by identity.
    private static bool IsSame(object? a, object? b) => (a, b) switch
    {
        (null, null) => true,
        (bool x, bool y) => x == y,
        (long x, long y) => x == y && x >= -5 && x <= 256,
        _ => a is not null && ReferenceEquals(a, b),
    };

    private static long AsInteger(object? value, string test) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d when Math.Floor(d) == d => (long)d,
        Undefined u => throw u.Fail(),
        _ => throw new TemplateError($"test '{test}' needs a number, not {PyValues.TypeName(value)}"),
    };
}
