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
            // jinja2 computes these with Python's %, so floats work and other types fail as % does.
            "odd" => PyOperators.AreEqual(PyOperators.Modulo(value, 2L), 1L),
            "even" => PyOperators.AreEqual(PyOperators.Modulo(value, 2L), 0L),
            "divisibleby" => PyOperators.AreEqual(PyOperators.Modulo(value, Arg()), 0L),
            // jinja2: str(value).islower() / .isupper(): some cased letter, none of the other case.
            "lower" => PyValues.Str(value) is var lower && lower.Any(char.IsLower) && !lower.Any(char.IsUpper),
            "upper" => PyValues.Str(value) is var upper && upper.Any(char.IsUpper) && !upper.Any(char.IsLower),
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
}
