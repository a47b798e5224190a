using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>Executes a parsed template: statements write to the output, expressions have Python semantics.</summary>
internal sealed class TemplateEvaluator
{
    private enum Flow { Normal, Break, Continue }

    private const int MaxCallDepth = 200;
    // Long operator chains (a ~ b ~ c ...) build deep trees; Python would raise RecursionError too.
    private const int MaxEvaluationDepth = 600;
    private int _callDepth;
    private int _evaluationDepth;
    private int _loopDepth;

    public string Render(List<Stmt> body, TemplateScope scope)
    {
        var output = new StringBuilder();
        Execute(body, scope, output);
        return output.ToString();
    }

    private Flow Execute(List<Stmt> body, TemplateScope scope, StringBuilder output)
    {
        foreach (var stmt in body)
        {
            var flow = Execute(stmt, scope, output);
            if (flow != Flow.Normal) return flow;
        }
        return Flow.Normal;
    }

    private Flow Execute(Stmt stmt, TemplateScope scope, StringBuilder output)
    {
        switch (stmt)
        {
            case TextStmt text:
                output.Append(text.Text);
                return Flow.Normal;
            case OutputStmt o:
                output.Append(PyValues.Str(Evaluate(o.Value, scope)));
                return Flow.Normal;
            case IfStmt i:
                foreach (var (condition, branch) in i.Branches)
                    if (PyValues.IsTrue(Evaluate(condition, scope)))
                        return Execute(branch, scope, output);
                return i.Else is null ? Flow.Normal : Execute(i.Else, scope, output);
            case ForStmt f:
                ExecuteFor(f, scope, output);
                return Flow.Normal;
            case SetStmt s:
                Assign(s.Target, Evaluate(s.Value, scope), scope);
                return Flow.Normal;
            case SetBlockStmt sb:
                {
                    object? captured = Capture(sb.Body, scope);
                    foreach (var filter in sb.Filters) captured = ApplyFilter(filter, captured, scope);
                    Assign(sb.Target, captured, scope);
                    return Flow.Normal;
                }
            case MacroStmt m:
                scope.Set(m.Name, DefineMacro(m, scope));
                return Flow.Normal;
            case FilterBlockStmt fb:
                {
                    object? captured = Capture(fb.Body, scope);
                    foreach (var filter in fb.Filters) captured = ApplyFilter(filter, captured, scope);
                    output.Append(PyValues.Str(captured));
                    return Flow.Normal;
                }
            case GenerationStmt g:
                return Execute(g.Body, scope, output);
            case WithStmt w:
                {
                    var inner = new TemplateScope(scope);
                    // jinja2 evaluates every value in the outer scope before binding any name.
                    var values = w.Assignments.Select(a => Evaluate(a.Value, scope)).ToList();
                    for (int i = 0; i < values.Count; i++) Assign(w.Assignments[i].Target, values[i], inner);
                    return Execute(w.Body, inner, output);
                }
            case BreakStmt b:
                if (_loopDepth == 0) throw new TemplateError($"line {b.Line}: 'break' outside of a loop");
                return Flow.Break;
            case ContinueStmt c:
                if (_loopDepth == 0) throw new TemplateError($"line {c.Line}: 'continue' outside of a loop");
                return Flow.Continue;
            default:
                throw new TemplateError($"line {stmt.Line}: unsupported statement");
        }
    }

    private string Capture(List<Stmt> body, TemplateScope scope)
    {
        var sb = new StringBuilder();
        Execute(body, scope, sb);
        return sb.ToString();
    }

    private void ExecuteFor(ForStmt f, TemplateScope scope, StringBuilder output)
    {
        var items = PyValues.Iterate(Evaluate(f.Iterable, scope));
        if (f.Filter is not null)
        {
            items = items.Where(item =>
            {
                var filterScope = new TemplateScope(scope);
                Assign(f.Target, item, filterScope);
                return PyValues.IsTrue(Evaluate(f.Filter, filterScope));
            }).ToList();
        }
        if (items.Count == 0)
        {
            if (f.Else is not null) Execute(f.Else, scope, output);
            return;
        }
        var loop = new LoopContext(items, 0);
        _loopDepth++;
        try
        {
            for (int i = 0; i < items.Count; i++)
            {
                loop.Index0 = i;
                var iteration = new TemplateScope(scope);
                iteration.Set("loop", loop);
                Assign(f.Target, items[i], iteration);
                if (Execute(f.Body, iteration, output) == Flow.Break) break;
            }
        }
        finally
        {
            _loopDepth--;
        }
    }

    private void Assign(Expr target, object? value, TemplateScope scope)
    {
        switch (target)
        {
            case NameExpr n:
                scope.Set(n.Name, value);
                break;
            case TupleExpr t:
                {
                    if (value is Undefined u) throw u.Fail();
                    var values = PyValues.Iterate(value);
                    if (values.Count > t.Items.Count) throw new TemplateError($"too many values to unpack (expected {t.Items.Count})");
                    if (values.Count < t.Items.Count) throw new TemplateError($"not enough values to unpack (expected {t.Items.Count}, got {values.Count})");
                    for (int i = 0; i < values.Count; i++) Assign(t.Items[i], values[i], scope);
                    break;
                }
            case AttributeExpr { Target: NameExpr owner } a:
                if (scope.Get(owner.Name) is not Namespace ns)
                    throw new TemplateError("cannot assign attribute on non-namespace object");
                ns.Attributes[a.Name] = value;
                break;
            default:
                throw new TemplateError($"line {target.Line}: cannot assign to this target");
        }
    }

    private TemplateCallable DefineMacro(MacroStmt m, TemplateScope definingScope) => new(m.Name, args =>
    {
        if (args.Positional.Count > m.Parameters.Count)
            throw new TemplateError($"macro '{m.Name}' takes not more than {m.Parameters.Count} argument(s)");
        var scope = new TemplateScope(definingScope);
        for (int i = 0; i < m.Parameters.Count; i++)
        {
            string name = m.Parameters[i];
            object? value;
            if (i < args.Positional.Count) value = args.Positional[i];
            else if (args.Keywords.TryGetValue(name, out var kw)) value = kw;
            else if (m.Defaults[i] is { } fallback) value = Evaluate(fallback, scope);
            else value = new Undefined($"parameter '{name}' was not provided");
            scope.Set(name, value);
        }
        foreach (var key in args.Keywords.Keys)
            if (!m.Parameters.Contains(key))
                throw new TemplateError($"macro '{m.Name}' was invoked with an unknown keyword argument '{key}'");
        if (++_callDepth > MaxCallDepth) throw new TemplateError("maximum recursion depth exceeded");
        int savedLoopDepth = _loopDepth;
        _loopDepth = 0;
        try
        {
            return Capture(m.Body, scope);
        }
        finally
        {
            _callDepth--;
            _loopDepth = savedLoopDepth;
        }
    });

    public object? Evaluate(Expr expr, TemplateScope scope)
    {
        if (_evaluationDepth >= MaxEvaluationDepth)
            throw new TemplateError("maximum recursion depth exceeded while evaluating an expression");
        _evaluationDepth++;
        try
        {
            return EvaluateNode(expr, scope);
        }
        finally
        {
            _evaluationDepth--;
        }
    }

    private object? EvaluateNode(Expr expr, TemplateScope scope)
    {
        switch (expr)
        {
            case LiteralExpr l: return l.Value;
            case NameExpr n: return scope.Get(n.Name);
            case ListExpr l: return l.Items.Select(x => Evaluate(x, scope)).ToList();
            case TupleExpr t: return new PyTuple(t.Items.Select(x => Evaluate(x, scope)));
            case DictExpr d:
                {
                    var dict = new PyDict();
                    foreach (var (k, v) in d.Entries)
                    {
                        object? key = Evaluate(k, scope);
                        if (key is null or Undefined or List<object?> or PyDict)
                            throw new TemplateError($"line {d.Line}: unhashable dict key of type '{PyValues.TypeName(key)}'");
                        dict[key] = Evaluate(v, scope);
                    }
                    return dict;
                }
            case AttributeExpr a: return PyOperators.GetAttribute(Evaluate(a.Target, scope), a.Name);
            case ItemExpr i: return PyOperators.GetItem(Evaluate(i.Target, scope), Evaluate(i.Key, scope));
            case SliceExpr s:
                return PyOperators.Slice(Evaluate(s.Target, scope), EvaluateOptional(s.Start, scope),
                    EvaluateOptional(s.Stop, scope), EvaluateOptional(s.Step, scope));
            case CallExpr c:
                {
                    object? callee = Evaluate(c.Callee, scope);
                    var args = EvaluateArguments(c.Arguments, scope);
                    return callee switch
                    {
                        TemplateCallable f => f.Invoke(args),
                        Undefined u => throw u.Fail(),
                        _ => throw new TemplateError($"'{PyValues.TypeName(callee)}' object is not callable"),
                    };
                }
            case FilterExpr f: return ApplyFilter(f, Evaluate(f.Value, scope), scope);
            case TestExpr t:
                {
                    bool result = TemplatePredicates.Test(t.Name, Evaluate(t.Value, scope), EvaluateArguments(t.Arguments, scope));
                    return t.Negated ? !result : result;
                }
            case UnaryExpr u:
                {
                    object? operand = Evaluate(u.Operand, scope);
                    return u.Operator switch
                    {
                        "not" => !PyValues.IsTrue(operand),
                        "-" => PyOperators.Negate(operand),
                        _ => PyOperators.Plus(operand),
                    };
                }
            case BinaryExpr b: return EvaluateBinary(b, scope);
            case CompareExpr c:
                {
                    object? left = Evaluate(c.First, scope);
                    foreach (var (op, operandExpr) in c.Rest)
                    {
                        object? right = Evaluate(operandExpr, scope);
                        if (!CompareOnce(op, left, right)) return false;
                        left = right;
                    }
                    return true;
                }
            case ConditionalExpr c:
                if (PyValues.IsTrue(Evaluate(c.Condition, scope))) return Evaluate(c.Then, scope);
                return c.Else is null
                    ? new Undefined($"the inline if-expression on line {c.Line} evaluated to false and no else section was defined.")
                    : Evaluate(c.Else, scope);
            default:
                throw new TemplateError($"line {expr.Line}: unsupported expression");
        }
    }

    private object? EvaluateOptional(Expr? expr, TemplateScope scope) => expr is null ? null : Evaluate(expr, scope);

    private object? EvaluateBinary(BinaryExpr b, TemplateScope scope)
    {
        object? left = Evaluate(b.Left, scope);
        switch (b.Operator)
        {
            case "and": return PyValues.IsTrue(left) ? Evaluate(b.Right, scope) : left;
            case "or": return PyValues.IsTrue(left) ? left : Evaluate(b.Right, scope);
        }
        object? right = Evaluate(b.Right, scope);
        return b.Operator switch
        {
            "~" => PyValues.Str(left) + PyValues.Str(right),
            "+" => PyOperators.Add(left, right),
            "-" => PyOperators.Subtract(left, right),
            "*" => PyOperators.Multiply(left, right),
            "/" => PyOperators.Divide(left, right),
            "//" => PyOperators.FloorDivide(left, right),
            "%" => PyOperators.Modulo(left, right),
            "**" => PyOperators.Power(left, right),
            _ => throw new TemplateError($"line {b.Line}: unknown operator '{b.Operator}'"),
        };
    }

    private static bool CompareOnce(string op, object? left, object? right) => op switch
    {
        "==" => PyOperators.AreEqual(left, right),
        "!=" => !PyOperators.AreEqual(left, right),
        "<" => PyOperators.Compare(left, right, op) < 0,
        "<=" => PyOperators.Compare(left, right, op) <= 0,
        ">" => PyOperators.Compare(left, right, op) > 0,
        ">=" => PyOperators.Compare(left, right, op) >= 0,
        "in" => PyOperators.Contains(right, left),
        _ => !PyOperators.Contains(right, left),
    };

    public CallArguments EvaluateArguments(ArgumentList args, TemplateScope scope)
    {
        if (args.Positional.Count == 0 && args.Keywords.Count == 0 && args.Star is null && args.DoubleStar is null)
            return CallArguments.Empty;
        var positional = args.Positional.Select(x => Evaluate(x, scope)).ToList();
        if (args.Star is not null) positional.AddRange(PyValues.Iterate(Evaluate(args.Star, scope)));
        var keywords = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in args.Keywords) keywords[name] = Evaluate(value, scope);
        if (args.DoubleStar is not null)
        {
            if (Evaluate(args.DoubleStar, scope) is not PyDict extra) throw new TemplateError("argument after ** must be a mapping");
            foreach (var (k, v) in extra)
                keywords[k as string ?? throw new TemplateError("keywords must be strings")] = v;
        }
        return new CallArguments(positional, keywords);
    }

    private object? ApplyFilter(FilterExpr filter, object? value, TemplateScope scope) =>
        TemplateFilters.Apply(filter.Name, value, EvaluateArguments(filter.Arguments, scope));
}
