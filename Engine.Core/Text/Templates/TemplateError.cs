namespace Engine.Core.Text.Templates;

/// <summary>
/// A chat template failed: a syntax error, a `raise_exception(...)` call, an undefined method or a type
/// error. The message is one line, prefixed "chat template error: "; <see cref="Detail"/> is the part after it
/// (for `raise_exception`, exactly the message the template raised, as jinja2's TemplateError carries it).
/// </summary>
public sealed class TemplateError : EngineException
{
    public const string Prefix = "chat template error: ";

    public TemplateError(string detail) : base(Prefix + OneLine(detail)) => Detail = detail;

    /// <summary>The error as the template engine states it, without the prefix.</summary>
    public string Detail { get; }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
