using System.Globalization;
using System.Text;

namespace Engine.Core.Text.Templates;

/// <summary>
/// Splits template source into tokens the way jinja2's lexer does with Hugging Face's settings:
/// trim_blocks (drop the newline after a block or comment tag), lstrip_blocks (drop the spaces before a
/// block or comment tag on its own line), `-`/`+` whitespace control, `{% raw %}`, and the trailing newline
/// of the source removed (keep_trailing_newline=False).
/// </summary>
internal sealed class TemplateLexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"];

    private readonly string _src;
    private readonly List<TemplateToken> _tokens = [];
    private readonly List<int> _newlines = [];
    private int _pos;
    private bool _lineStarting = true;

    private TemplateLexer(string source)
    {
        source = source.Replace("\r\n", "\n").Replace('\r', '\n');
        if (source.EndsWith('\n')) source = source[..^1];
        _src = source;
        for (int i = 0; i < _src.Length; i++)
            if (_src[i] == '\n') _newlines.Add(i);
    }

    public static List<TemplateToken> Tokenize(string source)
    {
        var lexer = new TemplateLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private int LineAt(int pos)
    {
        int i = _newlines.BinarySearch(pos);
        return (i < 0 ? ~i : i) + 1;
    }

    private TemplateError Error(string message, int pos) => new($"line {LineAt(pos)}: {message}");

    private void Run()
    {
        while (_pos < _src.Length)
        {
            int tag = FindTagStart(_pos);
            if (tag < 0)
            {
                AddData(_src[_pos..], _pos);
                break;
            }
            char kind = _src[tag + 1];
            char sign = tag + 2 < _src.Length && _src[tag + 2] is '-' or '+' ? _src[tag + 2] : '\0';
            string text = _src[_pos..tag];
            if (sign == '-')
                text = PyStrings.Strip(text, null, false, true);
            else if (sign != '+' && kind != '{')
                text = LeftStripBlock(text);
            AddData(text, _pos);
            _pos = tag + 2 + (sign == '\0' ? 0 : 1);
            if (kind == '#') LexComment(tag);
            else if (kind == '%' && TryLexRaw(tag)) { }
            else LexTag(kind == '{', tag);
        }
        _tokens.Add(new TemplateToken(TokenKind.EndOfTemplate, "", LineAt(_src.Length)));
    }

    private int FindTagStart(int from)
    {
        for (int i = _src.IndexOf('{', from); i >= 0 && i + 1 < _src.Length; i = _src.IndexOf('{', i + 1))
            if (_src[i + 1] is '{' or '%' or '#') return i;
        return -1;
    }

    private void AddData(string text, int pos)
    {
        if (text.Length > 0) _tokens.Add(new TemplateToken(TokenKind.Data, text, LineAt(pos)));
    }

    // lstrip_blocks: spaces between the start of the line and a block/comment tag are dropped.
    private string LeftStripBlock(string text)
    {
        int lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !_lineStarting) return text;
        if (lineStart == text.Length) return text;
        for (int i = lineStart; i < text.Length; i++)
            if (!PyStrings.IsSpace(text[i])) return text;
        return text[..lineStart];
    }

    // After a block or comment end: "-%}" eats all following whitespace, "+%}" none, "%}" one newline.
    private void ConsumeBlockEnd(int endStart, char sign)
    {
        _pos = endStart + (sign == '\0' ? 0 : 1) + 2;
        if (sign == '-')
            while (_pos < _src.Length && PyStrings.IsSpace(_src[_pos])) _pos++;
        else if (sign == '\0' && _pos < _src.Length && _src[_pos] == '\n')
            _pos++;
        _lineStarting = _src[_pos - 1] == '\n';
    }

    private void LexComment(int tagStart)
    {
        int end = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
        if (end < 0) throw Error("missing end of comment tag", tagStart);
        char sign = end - 1 >= _pos && _src[end - 1] is '-' or '+' ? _src[end - 1] : '\0';
        ConsumeBlockEnd(sign == '\0' ? end : end - 1, sign);
    }

    // {% raw %}...{% endraw %}: the body is data, untouched.
    private bool TryLexRaw(int tagStart)
    {
        int p = SkipSpaces(_pos);
        if (string.CompareOrdinal(_src, p, "raw", 0, 3) != 0) return false;
        p = SkipSpaces(p + 3);
        char sign = p < _src.Length && _src[p] is '-' or '+' ? _src[p] : '\0';
        int close = sign == '\0' ? p : p + 1;
        if (string.CompareOrdinal(_src, close, "%}", 0, 2) != 0) return false;
        ConsumeBlockEnd(p, sign);
        for (int search = _pos; ;)
        {
            int begin = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (begin < 0) throw Error("missing end of raw directive", tagStart);
            int q = begin + 2;
            char endSign = q < _src.Length && _src[q] is '-' or '+' ? _src[q] : '\0';
            q = SkipSpaces(endSign == '\0' ? q : q + 1);
            if (string.CompareOrdinal(_src, q, "endraw", 0, 6) == 0)
            {
                q = SkipSpaces(q + 6);
                char closeSign = q < _src.Length && _src[q] is '-' or '+' ? _src[q] : '\0';
                int closeAt = closeSign == '\0' ? q : q + 1;
                if (string.CompareOrdinal(_src, closeAt, "%}", 0, 2) == 0)
                {
                    string body = _src[_pos..begin];
                    if (endSign == '-') body = PyStrings.Strip(body, null, false, true);
                    AddData(body, _pos);
                    ConsumeBlockEnd(q, closeSign);
                    return true;
                }
            }
            search = begin + 2;
        }
    }

    private int SkipSpaces(int p)
    {
        while (p < _src.Length && PyStrings.IsSpace(_src[p])) p++;
        return p;
    }

    private void LexTag(bool isVariable, int tagStart)
    {
        _tokens.Add(new TemplateToken(isVariable ? TokenKind.VariableBegin : TokenKind.BlockBegin, isVariable ? "{{" : "{%", LineAt(tagStart)));
        var brackets = new Stack<char>();
        while (true)
        {
            _pos = SkipSpaces(_pos);
            if (_pos >= _src.Length)
                throw Error(isVariable ? "unexpected end of template, expected end of print statement" : "unexpected end of template, expected end of statement block", tagStart);
            if (brackets.Count == 0 && TryLexTagEnd(isVariable)) return;
            LexExpressionToken(brackets);
        }
    }

    private bool TryLexTagEnd(bool isVariable)
    {
        string closer = isVariable ? "}}" : "%}";
        char sign = _src[_pos] is '-' or '+' ? _src[_pos] : '\0';
        if (isVariable && sign == '+') sign = '\0';
        int at = sign == '\0' ? _pos : _pos + 1;
        if (string.CompareOrdinal(_src, at, closer, 0, 2) != 0) return false;
        int line = LineAt(_pos);
        if (isVariable)
        {
            _pos = at + 2;
            if (sign == '-') _pos = SkipSpaces(_pos);
            _lineStarting = _src[_pos - 1] == '\n';
        }
        else
        {
            ConsumeBlockEnd(_pos, sign);
        }
        _tokens.Add(new TemplateToken(isVariable ? TokenKind.VariableEnd : TokenKind.BlockEnd, closer, line));
        return true;
    }

    private void LexExpressionToken(Stack<char> brackets)
    {
        int start = _pos;
        int line = LineAt(start);
        char c = _src[_pos];
        if (char.IsAsciiLetter(c) || c == '_')
        {
            while (_pos < _src.Length && (char.IsAsciiLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
            _tokens.Add(new TemplateToken(TokenKind.Name, _src[start.._pos], line));
            return;
        }
        if (c is '\'' or '"')
        {
            _tokens.Add(LexString(c, line));
            return;
        }
        if (char.IsAsciiDigit(c))
        {
            _tokens.Add(LexNumber(line));
            return;
        }
        foreach (string op in Operators)
        {
            if (string.CompareOrdinal(_src, _pos, op, 0, op.Length) != 0) continue;
            if (op is "(" or "[" or "{") brackets.Push(op[0]);
            else if (op is ")" or "]" or "}")
            {
                char expected = op == ")" ? '(' : op == "]" ? '[' : '{';
                if (brackets.Count == 0) throw Error($"unexpected '{op}'", start);
                if (brackets.Pop() != expected) throw Error($"unexpected '{op}'", start);
            }
            _pos += op.Length;
            _tokens.Add(new TemplateToken(TokenKind.Operator, op, line));
            return;
        }
        throw Error($"unexpected char '{c}' at {start}", start);
    }

    private TemplateToken LexString(char quote, int line)
    {
        int start = _pos++;
        var raw = new StringBuilder();
        while (true)
        {
            if (_pos >= _src.Length) throw Error("unexpected end of string", start);
            char c = _src[_pos];
            if (c == quote) { _pos++; break; }
            if (c == '\\' && _pos + 1 < _src.Length)
            {
                raw.Append(c).Append(_src[_pos + 1]);
                _pos += 2;
                continue;
            }
            raw.Append(c);
            _pos++;
        }
        string text = raw.ToString();
        return new TemplateToken(TokenKind.String, text, line, DecodeEscapes(text));
    }

    /// <summary>Python's "unicode-escape" decoding, which jinja2 applies to string literals.</summary>
    private static string DecodeEscapes(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new StringBuilder(s.Length);
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c != '\\' || i + 1 >= s.Length) { sb.Append(c); continue; }
            char e = s[++i];
            switch (e)
            {
                case '\n': break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'v': sb.Append('\v'); break;
                case >= '0' and <= '7':
                    {
                        int value = 0, n = 0;
                        while (n < 3 && i < s.Length && s[i] is >= '0' and <= '7') { value = value * 8 + (s[i] - '0'); i++; n++; }
                        i--;
                        sb.Append((char)value);
                        break;
                    }
                case 'x' or 'u' or 'U':
                    {
                        int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                        if (s.Length - i - 1 < digits ||
                            !int.TryParse(s.AsSpan(i + 1, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code) ||
                            code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
                            throw new TemplateError($"invalid \\{e} escape in a string literal");
                        sb.Append(char.ConvertFromUtf32(code));
                        i += digits;
                        break;
                    }
                default: sb.Append('\\').Append(e); break;
            }
        }
        return sb.ToString();
    }

    private TemplateToken LexNumber(int line)
    {
        int start = _pos;
        bool afterDot = start > 0 && _src[start - 1] == '.';
        SkipDigits();
        bool isFloat = false;
        if (!afterDot)
        {
            if (_pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
            {
                _pos++;
                SkipDigits();
                isFloat = true;
            }
            if (_pos < _src.Length && _src[_pos] is 'e' or 'E')
            {
                int mark = _pos++;
                if (_pos < _src.Length && _src[_pos] is '+' or '-') _pos++;
                if (_pos < _src.Length && char.IsAsciiDigit(_src[_pos]))
                {
                    SkipDigits();
                    isFloat = true;
                }
                else _pos = mark;
            }
        }
        string text = _src[start.._pos];
        string clean = text.Replace("_", "");
        if (isFloat)
            return new TemplateToken(TokenKind.Float, text, line, double.Parse(clean, NumberStyles.Float, CultureInfo.InvariantCulture));
        if (!long.TryParse(clean, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
            throw Error($"integer literal {text} is too large", start);
        return new TemplateToken(TokenKind.Integer, text, line, value);
    }

    private void SkipDigits()
    {
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || (_src[_pos] == '_' && _pos + 1 < _src.Length && char.IsAsciiDigit(_src[_pos + 1]))))
            _pos++;
    }
}
