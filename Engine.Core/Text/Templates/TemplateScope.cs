namespace Engine.Core.Text.Templates;

/// <summary>
/// A variable scope. jinja2 gives each for-loop iteration and each macro call its own scope (a `set` inside
/// them does not leak out), while `if` blocks share the enclosing one.
/// </summary>
internal sealed class TemplateScope
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);
    private readonly TemplateScope? _parent;

    public TemplateScope(TemplateScope? parent = null) => _parent = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope._parent)
            if (scope._variables.TryGetValue(name, out value)) return true;
        value = null;
        return false;
    }

    public object? Get(string name) => TryGet(name, out var value) ? value : Undefined.Variable(name);

    public void Set(string name, object? value) => _variables[name] = value;
}
