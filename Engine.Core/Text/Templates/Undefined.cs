namespace Engine.Core.Text.Templates;

/// <summary>
/// jinja2's default Undefined: a missing variable, key or attribute. Renders as "", is falsy, iterates as
/// empty and has length 0; any other use (arithmetic, attribute access, calling) fails with <see cref="Hint"/>.
/// </summary>
internal sealed class Undefined
{
    public Undefined(string hint) => Hint = hint;

    /// <summary>jinja2's message for using it: "'x' is undefined" or "'dict object' has no attribute 'x'".</summary>
    public string Hint { get; }

    public static Undefined Variable(string name) => new($"'{name}' is undefined");

    public static Undefined Attribute(object? owner, object? name) =>
        name is string s
            ? new($"{PyValues.Repr(PyValues.ObjectTypeRepr(owner))} has no attribute {PyValues.Repr(s)}")
            : new($"{PyValues.ObjectTypeRepr(owner)} has no element {PyValues.Repr(name)}");

    public TemplateError Fail() => new(Hint);
}
