namespace Engine.Core.Text.Templates;

/// <summary>
/// A Python generator, as jinja2's map/select/reject/selectattr/rejectattr/items filters return: lazy, iterable
/// once, always truthy, without len() and not JSON serializable (so `x | map(...) | tojson` fails as in HF).
/// </summary>
internal sealed class PyGenerator
{
    private IEnumerable<object?>? _source;

    public PyGenerator(string function, IEnumerable<object?> source)
    {
        Function = function;
        _source = source;
    }

    /// <summary>The jinja2 function that made it ("sync_do_map"), shown when it is printed.</summary>
    public string Function { get; }

    /// <summary>The remaining items; a second iteration yields nothing, as in Python.</summary>
    public List<object?> Consume()
    {
        var source = _source;
        _source = null;
        return source is null ? [] : source.ToList();
    }
}
