namespace Engine.Core.Text.Templates;

/// <summary>The expression nodes of a parsed template (what goes inside `{{ }}` and tag arguments).</summary>
internal abstract record Expr(int Line);

internal sealed record LiteralExpr(object? Value, int Line) : Expr(Line);

internal sealed record NameExpr(string Name, int Line) : Expr(Line);

internal sealed record ListExpr(List<Expr> Items, int Line) : Expr(Line);

internal sealed record TupleExpr(List<Expr> Items, int Line) : Expr(Line);

internal sealed record DictExpr(List<(Expr Key, Expr Value)> Entries, int Line) : Expr(Line);

/// <summary>`obj.name`: attribute first, then item.</summary>
internal sealed record AttributeExpr(Expr Target, string Name, int Line) : Expr(Line);

/// <summary>`obj[key]`: item first, then attribute.</summary>
internal sealed record ItemExpr(Expr Target, Expr Key, int Line) : Expr(Line);

internal sealed record SliceExpr(Expr Target, Expr? Start, Expr? Stop, Expr? Step, int Line) : Expr(Line);

/// <summary>Call arguments as written: positional, keyword, and optional *args / **kwargs.</summary>
internal sealed record ArgumentList(List<Expr> Positional, List<(string Name, Expr Value)> Keywords, Expr? Star, Expr? DoubleStar)
{
    public static readonly ArgumentList None = new([], [], null, null);
}

internal sealed record CallExpr(Expr Callee, ArgumentList Arguments, int Line) : Expr(Line);

/// <summary>`value | name(args)`.</summary>
internal sealed record FilterExpr(Expr Value, string Name, ArgumentList Arguments, int Line) : Expr(Line);

/// <summary>`value is [not] name(args)`.</summary>
internal sealed record TestExpr(Expr Value, string Name, ArgumentList Arguments, bool Negated, int Line) : Expr(Line);

/// <summary>Unary `-`, `+` and `not`.</summary>
internal sealed record UnaryExpr(string Operator, Expr Operand, int Line) : Expr(Line);

/// <summary>Binary arithmetic, `~`, `and`, `or`.</summary>
internal sealed record BinaryExpr(string Operator, Expr Left, Expr Right, int Line) : Expr(Line);

/// <summary>A comparison chain `a &lt; b == c`, including `in` and `not in`.</summary>
internal sealed record CompareExpr(Expr First, List<(string Operator, Expr Operand)> Rest, int Line) : Expr(Line);

/// <summary>`a if cond else b` (the else part may be missing: Undefined).</summary>
internal sealed record ConditionalExpr(Expr Condition, Expr Then, Expr? Else, int Line) : Expr(Line);
