namespace Engine.Core.Text.Templates;

/// <summary>The kinds of tokens the template lexer produces.</summary>
internal enum TokenKind
{
    Data,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    EndOfTemplate,
}

/// <summary>One token: its kind, its text (the literal's value for strings and numbers) and its line.</summary>
internal sealed record TemplateToken(TokenKind Kind, string Text, int Line, object? Value = null)
{
    public bool Is(TokenKind kind, string text) => Kind == kind && Text == text;

    public bool IsOperator(string op) => Is(TokenKind.Operator, op);

    public bool IsName(string name) => Is(TokenKind.Name, name);

    public string Describe() => Kind switch
    {
        TokenKind.EndOfTemplate => "end of template",
        TokenKind.VariableEnd => "end of print statement",
        TokenKind.BlockEnd => "end of statement block",
        TokenKind.Data => "template data",
        _ => $"'{Text}'",
    };
}
