namespace Engine.Core.Text.Templates;

/// <summary>The `loop` variable of a for loop: index, index0, revindex, first, last, length, previtem, cycle...</summary>
internal sealed class LoopContext
{
    private readonly List<object?> _items;

    public LoopContext(List<object?> items, int depth0)
    {
        _items = items;
        Depth0 = depth0;
    }

    public int Index0 { get; set; }
    public int Depth0 { get; }

    public object? GetAttribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(_items.Count - Index0),
        "revindex0" => (long)(_items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == _items.Count - 1,
        "length" => (long)_items.Count,
        "depth" => (long)(Depth0 + 1),
        "depth0" => (long)Depth0,
        "previtem" => Index0 > 0 ? _items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 + 1 < _items.Count ? _items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new TemplateCallable("cycle", Cycle),
        _ => Undefined.Attribute(this, name),
    };

    private object? Cycle(CallArguments args)
    {
        if (args.Positional.Count == 0) throw new TemplateError("no items for cycling given");
        return args.Positional[Index0 % args.Positional.Count];
    }
}
