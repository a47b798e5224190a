namespace Engine.Core.Text.Templates;

/// <summary>
/// The global functions a chat template can call: Hugging Face's `raise_exception` and `strftime_now`, and
/// jinja2's `namespace`, `range` and `dict`.
/// </summary>
internal static class TemplateGlobals
{
    public static IEnumerable<(string Name, TemplateCallable Function)> Create(DateTime now)
    {
        yield return ("raise_exception", new TemplateCallable("raise_exception", a =>
            throw new TemplateError(PyValues.Str(a.Get(0, "message")))));
        yield return ("strftime_now", new TemplateCallable("strftime_now", a =>
            PyStrftime.Format(now, a.Get(0, "format") as string ?? throw new TemplateError("strftime_now() argument must be str"))));
        yield return ("namespace", new TemplateCallable("namespace", CreateNamespace));
        yield return ("range", new TemplateCallable("range", Range));
        yield return ("dict", new TemplateCallable("dict", a =>
        {
            var dict = new PyDict();
            foreach (var (k, v) in a.Keywords) dict[k] = v;
            return dict;
        }));
    }

    private static object? CreateNamespace(CallArguments a)
    {
        var ns = new Namespace();
        foreach (var initial in a.Positional)
        {
            if (initial is not PyDict dict) throw new TemplateError("namespace() takes a mapping or keyword arguments");
            foreach (var (k, v) in dict) ns.Attributes[PyValues.Str(k)] = v;
        }
        foreach (var (k, v) in a.Keywords) ns.Attributes[k] = v;
        return ns;
    }

    private const int MaxRange = 100_000;

    private static object? Range(CallArguments a)
    {
        long Arg(int i) => a.Positional[i] switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            var v => throw new TemplateError($"'{PyValues.TypeName(v)}' object cannot be interpreted as an integer"),
        };
        (long start, long stop, long step) = a.Positional.Count switch
        {
            1 => (0L, Arg(0), 1L),
            2 => (Arg(0), Arg(1), 1L),
            3 => (Arg(0), Arg(1), Arg(2)),
            _ => throw new TemplateError($"range expected 1 to 3 arguments, got {a.Positional.Count}"),
        };
        if (step == 0) throw new TemplateError("range() arg 3 must not be zero");
        var items = new List<object?>();
        for (long i = start; step > 0 ? i < stop : i > stop; i += step)
        {
            // jinja2's sandbox caps range() too (MAX_RANGE), so a template cannot exhaust memory.
            if (items.Count >= MaxRange) throw new TemplateError($"Range too big. The sandbox blocks ranges larger than MAX_RANGE ({MaxRange}).");
            items.Add(i);
        }
        return items;
    }
}
