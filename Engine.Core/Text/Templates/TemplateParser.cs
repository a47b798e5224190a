namespace Engine.Core.Text.Templates;

/// <summary>
/// Builds the syntax tree from tokens, following jinja2's grammar and operator precedence (lowest first):
/// conditional `if/else`, `or`, `and`, `not`, comparisons and `in`, `+ -`, `~`, `* / // %`, `**`, unary `- +`,
/// then postfix (`.`, `[]`, calls), filters `|` and tests `is` (so `a + b | trim` trims only b).
/// </summary>
internal sealed class TemplateParser
{
    // Deeper nesting than any real template needs is refused, so a hostile template cannot overflow the stack.
    private const int MaxNesting = 100;
    private readonly List<TemplateToken> _tokens;
    private int _index;
    private int _nesting;

    private TemplateParser(List<TemplateToken> tokens) => _tokens = tokens;

    public static List<Stmt> Parse(string source)
    {
        var parser = new TemplateParser(TemplateLexer.Tokenize(source));
        var body = parser.ParseStatements([], out _);
        return body;
    }

    private TemplateToken Current => _tokens[_index];
    private TemplateToken Peek(int ahead = 1) => _tokens[Math.Min(_index + ahead, _tokens.Count - 1)];
    private TemplateToken Next() => _tokens[_index++];

    private TemplateError Error(string message, TemplateToken? at = null) => new($"line {(at ?? Current).Line}: {message}");

    private TemplateToken Expect(TokenKind kind, string? text = null)
    {
        var token = Current;
        if (token.Kind != kind || (text is not null && token.Text != text))
        {
            string wanted = text is not null ? $"'{text}'" : kind switch
            {
                TokenKind.Name => "a name",
                TokenKind.VariableEnd => "end of print statement",
                TokenKind.BlockEnd => "end of statement block",
                _ => kind.ToString(),
            };
            throw Error($"expected {wanted}, got {token.Describe()}");
        }
        _index++;
        return token;
    }

    private bool SkipOperator(string op)
    {
        if (!Current.IsOperator(op)) return false;
        _index++;
        return true;
    }

    private bool SkipName(string name)
    {
        if (!Current.IsName(name)) return false;
        _index++;
        return true;
    }

    /// <summary>Statements until one of <paramref name="endTags"/> (left unconsumed after its `{%`) or the end.</summary>
    private List<Stmt> ParseStatements(string[] endTags, out string? endedBy)
    {
        Enter();
        try
        {
            return ParseStatementList(endTags, out endedBy);
        }
        finally
        {
            _nesting--;
        }
    }

    private void Enter()
    {
        if (++_nesting > MaxNesting) throw Error($"template nested more than {MaxNesting} levels deep");
    }

    private List<Stmt> ParseStatementList(string[] endTags, out string? endedBy)
    {
        var body = new List<Stmt>();
        while (true)
        {
            var token = Current;
            switch (token.Kind)
            {
                case TokenKind.EndOfTemplate:
                    if (endTags.Length > 0)
                        throw Error($"Unexpected end of template. Jinja was looking for the following tags: {string.Join(" or ", endTags.Select(t => $"'{t}'"))}.");
                    endedBy = null;
                    return body;
                case TokenKind.Data:
                    _index++;
                    body.Add(new TextStmt(token.Text, token.Line));
                    break;
                case TokenKind.VariableBegin:
                    _index++;
                    var value = ParseTuple(allowConditional: true);
                    Expect(TokenKind.VariableEnd);
                    body.Add(new OutputStmt(value, token.Line));
                    break;
                case TokenKind.BlockBegin:
                    var tag = Peek();
                    if (tag.Kind == TokenKind.Name && endTags.Contains(tag.Text))
                    {
                        _index += 2;
                        endedBy = tag.Text;
                        return body;
                    }
                    _index++;
                    body.Add(ParseStatement());
                    break;
                default:
                    throw Error($"unexpected {token.Describe()}");
            }
        }
    }

    private Stmt ParseStatement()
    {
        var tag = Current;
        if (tag.Kind != TokenKind.Name) throw Error("tag name expected");
        _index++;
        switch (tag.Text)
        {
            case "if": return ParseIf(tag);
            case "for": return ParseFor(tag);
            case "set": return ParseSet(tag);
            case "macro": return ParseMacro(tag);
            case "filter":
                {
                    var filters = ParseFilterChain(requirePipe: false);
                    Expect(TokenKind.BlockEnd);
                    var body = ParseStatements(["endfilter"], out _);
                    Expect(TokenKind.BlockEnd);
                    return new FilterBlockStmt(filters, body, tag.Line);
                }
            case "generation":
                {
                    Expect(TokenKind.BlockEnd);
                    var body = ParseStatements(["endgeneration"], out _);
                    Expect(TokenKind.BlockEnd);
                    return new GenerationStmt(body, tag.Line);
                }
            case "with":
                {
                    var assignments = new List<(Expr, Expr)>();
                    while (Current.Kind != TokenKind.BlockEnd)
                    {
                        if (assignments.Count > 0) Expect(TokenKind.Operator, ",");
                        var target = ParseAssignTarget(allowAttribute: false);
                        Expect(TokenKind.Operator, "=");
                        assignments.Add((target, ParseExpression()));
                    }
                    Expect(TokenKind.BlockEnd);
                    var body = ParseStatements(["endwith"], out _);
                    Expect(TokenKind.BlockEnd);
                    return new WithStmt(assignments, body, tag.Line);
                }
            case "break":
                Expect(TokenKind.BlockEnd);
                return new BreakStmt(tag.Line);
            case "continue":
                Expect(TokenKind.BlockEnd);
                return new ContinueStmt(tag.Line);
            default:
                throw Error($"Encountered unknown tag '{tag.Text}'.", tag);
        }
    }

    private IfStmt ParseIf(TemplateToken tag)
    {
        var branches = new List<(Expr, List<Stmt>)>();
        List<Stmt>? elseBody = null;
        var condition = ParseTuple(allowConditional: false);
        while (true)
        {
            Expect(TokenKind.BlockEnd);
            var body = ParseStatements(["elif", "else", "endif"], out var endedBy);
            branches.Add((condition, body));
            if (endedBy == "elif")
            {
                condition = ParseTuple(allowConditional: false);
                continue;
            }
            if (endedBy == "else")
            {
                Expect(TokenKind.BlockEnd);
                elseBody = ParseStatements(["endif"], out _);
            }
            Expect(TokenKind.BlockEnd);
            return new IfStmt(branches, elseBody, tag.Line);
        }
    }

    private ForStmt ParseFor(TemplateToken tag)
    {
        var target = ParseAssignTarget(allowAttribute: false);
        Expect(TokenKind.Name, "in");
        var iterable = ParseTuple(allowConditional: false);
        Expr? filter = null;
        if (SkipName("if")) filter = ParseExpression();
        if (Current.IsName("recursive")) throw Error("recursive for loops are not supported");
        Expect(TokenKind.BlockEnd);
        var body = ParseStatements(["endfor", "else"], out var endedBy);
        List<Stmt>? elseBody = null;
        if (endedBy == "else")
        {
            Expect(TokenKind.BlockEnd);
            elseBody = ParseStatements(["endfor"], out _);
        }
        Expect(TokenKind.BlockEnd);
        return new ForStmt(target, iterable, filter, body, elseBody, tag.Line);
    }

    private Stmt ParseSet(TemplateToken tag)
    {
        var target = ParseAssignTarget(allowAttribute: true);
        if (SkipOperator("="))
        {
            var value = ParseTuple(allowConditional: true);
            Expect(TokenKind.BlockEnd);
            return new SetStmt(target, value, tag.Line);
        }
        var filters = Current.IsOperator("|") ? ParseFilterChain(requirePipe: true) : [];
        Expect(TokenKind.BlockEnd);
        var body = ParseStatements(["endset"], out _);
        Expect(TokenKind.BlockEnd);
        return new SetBlockStmt(target, body, filters, tag.Line);
    }

    private MacroStmt ParseMacro(TemplateToken tag)
    {
        string name = Expect(TokenKind.Name).Text;
        var parameters = new List<string>();
        var defaults = new List<Expr?>();
        Expect(TokenKind.Operator, "(");
        while (!SkipOperator(")"))
        {
            if (parameters.Count > 0) Expect(TokenKind.Operator, ",");
            if (SkipOperator(")")) break;
            parameters.Add(Expect(TokenKind.Name).Text);
            if (SkipOperator("=")) defaults.Add(ParseExpression());
            else if (defaults.Any(d => d is not null)) throw Error("non-default argument follows default argument");
            else defaults.Add(null);
        }
        Expect(TokenKind.BlockEnd);
        var body = ParseStatements(["endmacro"], out _);
        if (Current.Kind == TokenKind.Name) _index++;
        Expect(TokenKind.BlockEnd);
        return new MacroStmt(name, parameters, defaults, body, tag.Line);
    }

    /// <summary>A name, `a, b` tuple of names, or (for set) `ns.attr`.</summary>
    private Expr ParseAssignTarget(bool allowAttribute)
    {
        var first = Current;
        if (allowAttribute && first.Kind == TokenKind.Name && Peek().IsOperator("."))
        {
            _index += 2;
            var attr = Expect(TokenKind.Name);
            return new AttributeExpr(new NameExpr(first.Text, first.Line), attr.Text, first.Line);
        }
        var names = new List<Expr>();
        bool parenthesized = SkipOperator("(");
        do
        {
            var name = Expect(TokenKind.Name);
            names.Add(new NameExpr(name.Text, name.Line));
        } while (SkipOperator(","));
        if (parenthesized) Expect(TokenKind.Operator, ")");
        return names.Count == 1 && !parenthesized ? names[0] : new TupleExpr(names, first.Line);
    }

    /// <summary>An expression, or a comma-separated tuple of them (as in `{{ a, b }}` or `set x = 1, 2`).</summary>
    private Expr ParseTuple(bool allowConditional)
    {
        int line = Current.Line;
        var items = new List<Expr>();
        bool sawComma = false;
        while (true)
        {
            if (items.Count > 0)
            {
                if (!SkipOperator(",")) break;
                sawComma = true;
            }
            if (IsTupleEnd()) break;
            items.Add(allowConditional ? ParseExpression() : ParseOr());
        }
        if (!sawComma)
        {
            if (items.Count == 0) throw Error($"expected an expression, got {Current.Describe()}");
            return items[0];
        }
        return new TupleExpr(items, line);
    }

    private bool IsTupleEnd() =>
        Current.Kind is TokenKind.VariableEnd or TokenKind.BlockEnd or TokenKind.EndOfTemplate || Current.IsOperator(")");

    private Expr ParseExpression(bool allowConditional = true)
    {
        var expr = ParseOr();
        while (allowConditional && Current.IsName("if"))
        {
            int line = Next().Line;
            var condition = ParseOr();
            Expr? otherwise = SkipName("else") ? ParseExpression() : null;
            expr = new ConditionalExpr(condition, expr, otherwise, line);
        }
        return expr;
    }

    private Expr ParseOr()
    {
        Enter();
        try
        {
            return ParseOrChain();
        }
        finally
        {
            _nesting--;
        }
    }

    private Expr ParseOrChain()
    {
        var left = ParseAnd();
        while (Current.IsName("or"))
        {
            int line = Next().Line;
            left = new BinaryExpr("or", left, ParseAnd(), line);
        }
        return left;
    }

    private Expr ParseAnd()
    {
        var left = ParseNot();
        while (Current.IsName("and"))
        {
            int line = Next().Line;
            left = new BinaryExpr("and", left, ParseNot(), line);
        }
        return left;
    }

    private Expr ParseNot()
    {
        if (Current.IsName("not"))
        {
            int line = Next().Line;
            Enter();
            try
            {
                return new UnaryExpr("not", ParseNot(), line);
            }
            finally
            {
                _nesting--;
            }
        }
        return ParseCompare();
    }

    private static readonly HashSet<string> CompareOperators = ["==", "!=", "<", "<=", ">", ">="];

    private Expr ParseCompare()
    {
        int line = Current.Line;
        var first = ParseMath1();
        var rest = new List<(string, Expr)>();
        while (true)
        {
            if (Current.Kind == TokenKind.Operator && CompareOperators.Contains(Current.Text))
                rest.Add((Next().Text, ParseMath1()));
            else if (SkipName("in"))
                rest.Add(("in", ParseMath1()));
            else if (Current.IsName("not") && Peek().IsName("in"))
            {
                _index += 2;
                rest.Add(("notin", ParseMath1()));
            }
            else break;
        }
        return rest.Count == 0 ? first : new CompareExpr(first, rest, line);
    }

    private Expr ParseMath1()
    {
        var left = ParseConcat();
        while (Current.IsOperator("+") || Current.IsOperator("-"))
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParseConcat(), op.Line);
        }
        return left;
    }

    private Expr ParseConcat()
    {
        var left = ParseMath2();
        while (Current.IsOperator("~"))
        {
            var op = Next();
            left = new BinaryExpr("~", left, ParseMath2(), op.Line);
        }
        return left;
    }

    private Expr ParseMath2()
    {
        var left = ParsePow();
        while (Current.IsOperator("*") || Current.IsOperator("/") || Current.IsOperator("//") || Current.IsOperator("%"))
        {
            var op = Next();
            left = new BinaryExpr(op.Text, left, ParsePow(), op.Line);
        }
        return left;
    }

    private Expr ParsePow()
    {
        var left = ParseUnary();
        while (Current.IsOperator("**"))
        {
            var op = Next();
            left = new BinaryExpr("**", left, ParseUnary(), op.Line);
        }
        return left;
    }

    private Expr ParseUnary(bool withFilters = true)
    {
        Expr node;
        if (Current.IsOperator("-") || Current.IsOperator("+"))
        {
            var op = Next();
            Enter();
            try
            {
                node = new UnaryExpr(op.Text, ParseUnary(withFilters: false), op.Line);
            }
            finally
            {
                _nesting--;
            }
        }
        else node = ParsePrimary();
        node = ParsePostfix(node);
        return withFilters ? ParseFiltersAndTests(node) : node;
    }

    private Expr ParsePrimary()
    {
        var token = Next();
        switch (token.Kind)
        {
            case TokenKind.Name:
                return token.Text switch
                {
                    "true" or "True" => new LiteralExpr(true, token.Line),
                    "false" or "False" => new LiteralExpr(false, token.Line),
                    "none" or "None" => new LiteralExpr(null, token.Line),
                    _ => new NameExpr(token.Text, token.Line),
                };
            case TokenKind.String:
                {
                    string value = (string)token.Value!;
                    while (Current.Kind == TokenKind.String) value += (string)Next().Value!;
                    return new LiteralExpr(value, token.Line);
                }
            case TokenKind.Integer:
            case TokenKind.Float:
                return new LiteralExpr(token.Value, token.Line);
            case TokenKind.Operator when token.Text == "(":
                {
                    if (SkipOperator(")")) return new TupleExpr([], token.Line);
                    var inner = ParseTuple(allowConditional: true);
                    Expect(TokenKind.Operator, ")");
                    return inner;
                }
            case TokenKind.Operator when token.Text == "[":
                {
                    var items = new List<Expr>();
                    while (!SkipOperator("]"))
                    {
                        if (items.Count > 0) Expect(TokenKind.Operator, ",");
                        if (SkipOperator("]")) break;
                        items.Add(ParseExpression());
                    }
                    return new ListExpr(items, token.Line);
                }
            case TokenKind.Operator when token.Text == "{":
                {
                    var entries = new List<(Expr, Expr)>();
                    while (!SkipOperator("}"))
                    {
                        if (entries.Count > 0) Expect(TokenKind.Operator, ",");
                        if (SkipOperator("}")) break;
                        var key = ParseExpression();
                        Expect(TokenKind.Operator, ":");
                        entries.Add((key, ParseExpression()));
                    }
                    return new DictExpr(entries, token.Line);
                }
            default:
                throw Error($"unexpected {token.Describe()}", token);
        }
    }

    private Expr ParsePostfix(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("."))
            {
                var dot = Next();
                var member = Next();
                node = member.Kind switch
                {
                    TokenKind.Name => new AttributeExpr(node, member.Text, dot.Line),
                    TokenKind.Integer => new ItemExpr(node, new LiteralExpr(member.Value, member.Line), dot.Line),
                    _ => throw Error("expected name or number after '.'", member),
                };
            }
            else if (Current.IsOperator("["))
                node = ParseSubscript(node);
            else if (Current.IsOperator("("))
            {
                int line = Current.Line;
                node = new CallExpr(node, ParseCallArguments(), line);
            }
            else return node;
        }
    }

    private Expr ParseSubscript(Expr target)
    {
        int line = Next().Line;
        Expr? start = null, stop = null, step = null;
        bool isSlice = false;
        if (!Current.IsOperator(":")) start = ParseExpression();
        if (SkipOperator(":"))
        {
            isSlice = true;
            if (!Current.IsOperator("]") && !Current.IsOperator(":")) stop = ParseExpression();
            if (SkipOperator(":") && !Current.IsOperator("]")) step = ParseExpression();
        }
        Expect(TokenKind.Operator, "]");
        if (isSlice) return new SliceExpr(target, start, stop, step, line);
        return new ItemExpr(target, start ?? throw Error("expected a subscript"), line);
    }

    private ArgumentList ParseCallArguments()
    {
        Expect(TokenKind.Operator, "(");
        var positional = new List<Expr>();
        var keywords = new List<(string, Expr)>();
        Expr? star = null, doubleStar = null;
        bool first = true;
        while (!SkipOperator(")"))
        {
            if (!first)
            {
                Expect(TokenKind.Operator, ",");
                if (SkipOperator(")")) break;
            }
            first = false;
            if (SkipOperator("**")) doubleStar = ParseExpression();
            else if (SkipOperator("*")) star = ParseExpression();
            else if (Current.Kind == TokenKind.Name && Peek().IsOperator("="))
            {
                string name = Next().Text;
                _index++;
                keywords.Add((name, ParseExpression()));
            }
            else
            {
                if (keywords.Count > 0 || doubleStar is not null) throw Error("positional argument follows keyword argument");
                positional.Add(ParseExpression());
            }
        }
        return new ArgumentList(positional, keywords, star, doubleStar);
    }

    private string ParseDottedName()
    {
        string name = Expect(TokenKind.Name).Text;
        while (Current.IsOperator(".") && Peek().Kind == TokenKind.Name)
        {
            _index++;
            name += "." + Next().Text;
        }
        return name;
    }

    private Expr ParseFiltersAndTests(Expr node)
    {
        while (true)
        {
            if (Current.IsOperator("|"))
            {
                int line = Next().Line;
                string name = ParseDottedName();
                var args = Current.IsOperator("(") ? ParseCallArguments() : ArgumentList.None;
                node = new FilterExpr(node, name, args, line);
            }
            else if (Current.IsName("is"))
            {
                int line = Next().Line;
                bool negated = SkipName("not");
                string name = ParseDottedName();
                ArgumentList args = ArgumentList.None;
                if (Current.IsOperator("("))
                    args = ParseCallArguments();
                else if (StartsBareTestArgument())
                    args = new ArgumentList([ParsePostfix(ParsePrimary())], [], null, null);
                node = new TestExpr(node, name, args, negated, line);
            }
            else if (Current.IsOperator("("))
            {
                int line = Current.Line;
                node = new CallExpr(node, ParseCallArguments(), line);
            }
            else return node;
        }
    }

    // jinja2 lets a test take one argument without parentheses: `x is divisibleby 3`, `x is sameas false`.
    private bool StartsBareTestArgument()
    {
        var t = Current;
        if (t.Kind is TokenKind.String or TokenKind.Integer or TokenKind.Float) return true;
        if (t.IsOperator("[") || t.IsOperator("{")) return true;
        if (t.Kind == TokenKind.Name)
        {
            if (t.Text is "else" or "or" or "and") return false;
            if (t.Text == "is") throw Error("You cannot chain multiple tests with is");
            return true;
        }
        return false;
    }

    /// <summary>`name(args) | name2 ...` after a `{% filter %}` tag or `{% set x | ... %}`.</summary>
    private List<FilterExpr> ParseFilterChain(bool requirePipe)
    {
        var filters = new List<FilterExpr>();
        var placeholder = new LiteralExpr(null, Current.Line);
        if (requirePipe) Expect(TokenKind.Operator, "|");
        do
        {
            int line = Current.Line;
            string name = ParseDottedName();
            var args = Current.IsOperator("(") ? ParseCallArguments() : ArgumentList.None;
            filters.Add(new FilterExpr(placeholder, name, args, line));
        } while (SkipOperator("|"));
        return filters;
    }
}
