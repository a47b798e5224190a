namespace Engine.Core.Text.Templates;

/// <summary>Something a template can call: a global function, a bound str/dict/list method, or a macro.</summary>
internal sealed class TemplateCallable
{
    public TemplateCallable(string name, Func<CallArguments, object?> invoke)
    {
        Name = name;
        Invoke = invoke;
    }

    public string Name { get; }
    public Func<CallArguments, object?> Invoke { get; }
}
