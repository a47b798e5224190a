namespace Engine.Core.Text.Templates;

/// <summary>The statement nodes of a parsed template: text, output and the `{% %}` tags.</summary>
internal abstract record Stmt(int Line);

internal sealed record TextStmt(string Text, int Line) : Stmt(Line);

internal sealed record OutputStmt(Expr Value, int Line) : Stmt(Line);

internal sealed record IfStmt(List<(Expr Condition, List<Stmt> Body)> Branches, List<Stmt>? Else, int Line) : Stmt(Line);

/// <summary>`{% for target in iterable if filter %}body{% else %}empty{% endfor %}`.</summary>
internal sealed record ForStmt(Expr Target, Expr Iterable, Expr? Filter, List<Stmt> Body, List<Stmt>? Else, int Line) : Stmt(Line);

/// <summary>`{% set target = value %}`; the target is a name, a tuple of names, or `namespace.attr`.</summary>
internal sealed record SetStmt(Expr Target, Expr Value, int Line) : Stmt(Line);

/// <summary>`{% set name %}body{% endset %}`, optionally filtered (`{% set name | trim %}`).</summary>
internal sealed record SetBlockStmt(Expr Target, List<Stmt> Body, List<FilterExpr> Filters, int Line) : Stmt(Line);

internal sealed record MacroStmt(string Name, List<string> Parameters, List<Expr?> Defaults, List<Stmt> Body, int Line) : Stmt(Line);

/// <summary>`{% filter name %}body{% endfilter %}`: the body's output passed through filters.</summary>
internal sealed record FilterBlockStmt(List<FilterExpr> Filters, List<Stmt> Body, int Line) : Stmt(Line);

/// <summary>Hugging Face's `{% generation %}` marker: renders its body unchanged.</summary>
internal sealed record GenerationStmt(List<Stmt> Body, int Line) : Stmt(Line);

/// <summary>`{% with a = 1, b = 2 %}body{% endwith %}`: the body runs in a new scope holding those names.</summary>
internal sealed record WithStmt(List<(Expr Target, Expr Value)> Assignments, List<Stmt> Body, int Line) : Stmt(Line);

internal sealed record BreakStmt(int Line) : Stmt(Line);

internal sealed record ContinueStmt(int Line) : Stmt(Line);
