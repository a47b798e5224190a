namespace Engine.Core.Text.Templates;

/// <summary>jinja2's `namespace(...)`: a mutable attribute bag that `{% set ns.x = ... %}` can write across scopes.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new();
}
