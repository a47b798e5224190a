namespace Engine.Tests.Text.Templates;

/// <summary>
/// Interpreter cases with the output (or error message) that jinja2 3.1 gives for them under Hugging Face's
/// settings (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, HF's tojson), rendered
/// with <see cref="Context"/>.
/// </summary>
internal static class TemplateInterpreterCases
{
    /// <summary>The template variables every case is rendered with (messages is passed as messages).</summary>
    public const string Context = """
        {"messages": [{"role": "system", "content": " Sys\u00a0"}, {"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Yo", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1, "y": "é\n\"q\""}}}]}],
         "items": [3, 1, 2], "d": {"b": 1, "a": [1, 2.5, null, true], "c": {}}, "s": "Hello, World", "n": 7, "f": 2.5, "big": 1e16, "small": 0.0001, "tiny": 0.00001, "u": "h\u00e9llo \ud83d\ude42", "empty": [], "none": null, "t": true}
        """;

    public static readonly (string Template, string Expected)[] Whitespace =
    [
        ("a\n  {% if t %}\n  yes\n  {% endif %}\nb", "a\n  yes\nb"),
        ("a  {%- if t -%}  yes  {%- endif -%}  b", "ayesb"),
        ("  {{- s -}}  \n", "Hello, World"),
        ("x\n{# comment #}\ny", "x\ny"),
        ("x\n    {#- c -#}\n   y", "xy"),
        ("{% for i in items %}\n  {{ i }}\n{% endfor %}\n", "  3\n  1\n  2\n"),
        ("{%+ if t %}A{% endif %}|  {%+ if t %}B{% endif %}", "A|  B"),
        ("{% raw %}{{ not_rendered }}{% endraw %}", "{{ not_rendered }}"),
        ("{{ 'a' }}\n{{ 'b' }}\n", "a\nb"),
        ("line\n\n", "line\n"),
        ("a\r\nb", "a\nb"),
    ];

    public static readonly (string Template, string Expected)[] Loops =
    [
        ("{% for i in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}", "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;"),
        ("{% for i in items if i > 1 %}{{ i }}/{{ loop.length }} {% else %}none{% endfor %}", "3/2 2/2 "),
        ("{% for i in empty %}x{% else %}empty{% endfor %}", "empty"),
        ("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", "b=1;a=[1, 2.5, None, True];c={};"),
        ("{% for k in d %}{{ k }}{% endfor %}", "bac"),
        ("{% for c in 'abc' %}{{ c }}-{% endfor %}", "a-b-c-"),
        ("{% for i in items %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 2 %}{% break %}{% endif %}{{ i }}{% endfor %}", "3"),
        ("{% for i in items %}{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.cycle('a','b') }} {% endfor %}", "|1|a 3|2|b 1||a "),
        ("{% for a in [1,2] %}{% for b in [3,4] %}{{ a }}{{ b }}{{ loop.index }} {% endfor %}{% endfor %}", "131 142 231 242 "),
        ("{% set x = 1 %}{% for i in items %}{% set x = i %}{% endfor %}{{ x }}", "1"),
        ("{% for i in items %}{{ x }}{% set x = i %}{% endfor %}", ""),
    ];

    public static readonly (string Template, string Expected)[] SetAndNamespace =
    [
        ("{% set ns = namespace(total=0, seen=false) %}{% for i in items %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }} {{ ns.seen }}", "6 False"),
        ("{% set a, b = 1, 2 %}{{ a }}{{ b }}", "12"),
        ("{% set block %}  inner {{ n }}  {% endset %}[{{ block }}]", "[  inner 7  ]"),
        ("{% set block | trim | upper %}  inner  {% endset %}[{{ block }}]", "[INNER]"),
        ("{% set messages = messages[1:] %}{{ messages | length }}", "2"),
    ];

    public static readonly (string Template, string Expected)[] Conditionals =
    [
        ("{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}", "mid"),
        ("{{ 'yes' if t else 'no' }}{{ 'x' if none }}|", "yes|"),
        ("{{ 1 if [] else 2 }}{{ 1 if {} else 2 }}{{ 1 if '' else 2 }}{{ 1 if 0.0 else 2 }}", "2222"),
    ];

    public static readonly (string Template, string Expected)[] Tests =
    [
        ("{{ nothere is defined }}{{ s is defined }}{{ none is none }}{{ s is string }}{{ d is mapping }}{{ s is iterable }}{{ n is iterable }}{{ items is sequence }}", "FalseTrueTrueTrueTrueTrueFalseTrue"),
        ("{{ n is odd }}{{ n is even }}{{ n is divisibleby 7 }}{{ n is number }}{{ f is float }}{{ n is integer }}{{ t is boolean }}", "TrueFalseTrueTrueTrueTrueTrue"),
        ("{{ not nothere is defined }}{{ none is not none }}{{ 3 is in items }}{{ 1 is equalto 1.0 }}{{ s is lower }}", "TrueFalseTrueTrueFalse"),
    ];

    public static readonly (string Template, string Expected)[] Operators =
    [
        ("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 4 / 2 }} {{ 1 + 2.5 }} {{ 'ab' * 3 }}", "3 -4 1 2 3.5 1024 2.0 3.5 ababab"),
        ("{{ 1 ~ 2 ~ none ~ t }}{{ nothere ~ 'x' }}", "12NoneTruex"),
        ("{{ 'a' in 'cat' }} {{ 3 in items }} {{ 'b' in d }} {{ 'z' not in d }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 5 }}", "True True True True True False"),
        ("{{ t and 'x' }}|{{ none or 'y' }}|{{ 0 and 1 }}|{{ not 0 }}", "x|y|0|True"),
        ("{{ [1, 2] + [3] }} {{ (1, 2) }} {{ (1,) }} {{ {'a': 1, 'b': 'x'} }}", "[1, 2, 3] (1, 2) (1,) {'a': 1, 'b': 'x'}"),
        ("{{ 'Hello' == 'Hello' }} {{ [1,2] == [1,2] }} {{ none == none }} {{ nothere == nothere }} {{ 1 == true }}", "True True True True True"),
    ];

    public static readonly (string Template, string Expected)[] Printing =
    [
        ("{{ f }} {{ big }} {{ small }} {{ tiny }} {{ 1.0 }} {{ 3.14159 }} {{ 1e100 }} {{ 0.1 + 0.2 }} {{ -0.0 }} {{ 100000000000000000000.0 }}", "2.5 1e+16 0.0001 1e-05 1.0 3.14159 1e+100 0.30000000000000004 -0.0 1e+20"),
        ("{{ none }}|{{ t }}|{{ nothere }}|{{ d }}|{{ items }}|{{ messages[0] }}", "None|True||{'b': 1, 'a': [1, 2.5, None, True], 'c': {}}|[3, 1, 2]|{'role': 'system', 'content': ' Sys\\xa0'}"),
        ("{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\t', 'nl\\n', '\\\\'] }}", "[\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\t', 'nl\\n', '\\\\']"),
    ];

    public static readonly (string Template, string Expected)[] Subscripts =
    [
        ("{{ items[::-1] }} {{ items[1:] }} {{ items[:-1] }} {{ items[-1] }} {{ s[::-1] }} {{ s[7:] }} {{ s[0] }} {{ u[::-1] }} {{ u | length }} {{ u[-1] }}", "[2, 1, 3] [1, 2] [3, 1] 2 dlroW ,olleH World H \ud83d\ude42 olléh 7 \ud83d\ude42"),
        ("{{ items[::2] }} {{ items[5:] }} {{ s[-5:-1] }} {{ s[100] is defined }}", "[3, 2] [] Worl False"),
        ("{{ messages[0]['role'] }} {{ messages[0].role }} {{ messages.0.role }} {{ d.get('b') }} {{ d.get('zz', 'def') }}", "system system system 1 def"),
        ("{{ d.missing is defined }}|{{ d['missing'] }}|{{ messages[1].tool_calls is defined }}", "False||False"),
    ];

    public static readonly (string Template, string Expected)[] Methods =
    [
        ("{{ s.upper() }} {{ s.lower() }} {{ s.startswith('Hell') }} {{ s.endswith(('x', 'ld')) }} {{ s.split(', ') }} {{ ' a  b '.split() }} {{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }}", "HELLO, WORLD hello, world True True ['Hello', 'World'] ['a', 'b'] HeLLo, WorLd HeLLo, World"),
        ("[{{ messages[0].content.strip() }}] [{{ '  x  '.lstrip() }}] [{{ '  x  '.rstrip() }}] [{{ 'xxaxx'.strip('x') }}] {{ s.find('o') }} {{ s.count('l') }} {{ '-'.join(['a','b']) }} {{ 'hello world'.title() }} {{ 'hELLO'.capitalize() }}", "[Sys] [x  ] [  x] [a] 4 3 a-b Hello World Hello"),
        ("{{ 'a,b,,c'.split(',') }} {{ 'a b c'.split(' ', 1) }} {{ 'a b c'.rsplit(' ', 1) }} {{ 'l1\\nl2\\r\\nl3'.splitlines() }} {{ '{} and {}'.format(1, 'x') }} {{ '%s-%d' % ('a', 3) }}", "['a', 'b', '', 'c'] ['a', 'b c'] ['a b', 'c'] ['l1', 'l2', 'l3'] 1 and x a-3"),
        ("{{ '12'.isdigit() }} {{ 'ab'.isalpha() }} {{ ' '.isspace() }} {{ 'abc'.removeprefix('a') }} {{ '7'.zfill(3) }}", "True True True bc 007"),
    ];

    public static readonly (string Template, string Expected)[] Filters =
    [
        ("{{ '  x \u3000' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ s | length }}|{{ items | length }}|{{ d | count }}|{{ s | upper }}|{{ s | lower }}|{{ 'ab cd' | title }}|{{ 'aB' | capitalize }}", "x|hi|12|3|3|HELLO, WORLD|hello, world|Ab Cd|Ab"),
        ("{{ items | join(', ') }}|{{ items | sort | join }}|{{ items | sort(reverse=true) | list }}|{{ items | first }}|{{ items | last }}|{{ items | reverse | list }}|{{ items | max }}|{{ items | min }}|{{ items | sum }}", "3, 1, 2|123|[3, 2, 1]|3|2|[2, 1, 3]|3|1|6"),
        ("{{ ['a', 'code_interpreter', 'b'] | reject('equalto', 'code_interpreter') | join(', ') }}|{{ items | select('odd') | list }}|{{ items | map('string') | join('+') }}|{{ messages | map(attribute='role') | join(',') }}", "a, b|[3, 1]|3+1+2|system,user,assistant"),
        ("{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('tool_calls') | map(attribute='role') | list }}|{{ messages | selectattr('tool_calls', 'defined') | list | length }}", "1|['system', 'user']|1"),
        ("{{ d | items | list }}|{% for k, v in d | items %}{{ k }}{% endfor %}|{{ nothere | items | list }}|{{ d | dictsort }}", "[('b', 1), ('a', [1, 2.5, None, True]), ('c', {})]|bac|[]|[('a', [1, 2.5, None, True]), ('b', 1), ('c', {})]"),
        ("{{ nothere | default('dflt') }}|{{ '' | default('dflt') }}|{{ '' | default('dflt', true) }}|{{ none | default('x') }}", "dflt||dflt|None"),
        ("{{ '3' | int + 1 }}|{{ 'x' | int }}|{{ '2.5' | float }}|{{ 2.7 | int }}|{{ 2.5 | round }}|{{ 3.14159 | round(2) }}|{{ -3 | abs }}|{{ 'a b  c' | wordcount }}", "4|0|2.5|2|2.0|3.14|3|3"),
        ("{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ [1, 1, 2, 'A', 'a'] | unique | list }}|{{ 'ab' | list }}|{{ '<a&b>' | e }}|{{ 5 | string }}", "a\n  b\n\n  c|  a\n  b|[1, 2, 'A']|['a', 'b']|&lt;a&amp;b&gt;|5"),
        ("{{ 'ab' | replace('a', 'x') }}|{{ 'x' | center(5) }}|{{ s | reverse }}", "xb|  x  |dlroW ,olleH"),
    ];

    public static readonly (string Template, string Expected)[] ToJson =
    [
        ("{{ d | tojson }}|{{ messages[2].tool_calls[0].function.arguments | tojson }}|{{ u | tojson }}|{{ 'a\\u0001\\t' | tojson }}|{{ none | tojson }}|{{ [1.0, 2.5e-7, 1e16] | tojson }}", "{\"b\": 1, \"a\": [1, 2.5, null, true], \"c\": {}}|{\"x\": 1, \"y\": \"é\\n\\\"q\\\"\"}|\"héllo \ud83d\ude42\"|\"a\\u0001\\t\"|null|[1.0, 2.5e-07, 1e+16]"),
        ("{{ d | tojson(indent=4) }}", "{\n    \"b\": 1,\n    \"a\": [\n        1,\n        2.5,\n        null,\n        true\n    ],\n    \"c\": {}\n}"),
        ("{{ d | tojson(indent=2, sort_keys=true) }}|{{ d | tojson(separators=(',', ':')) }}|{{ u | tojson(ensure_ascii=true) }}|{{ {'e': [], 'f': {}} | tojson(indent=1) }}", "{\n  \"a\": [\n    1,\n    2.5,\n    null,\n    true\n  ],\n  \"b\": 1,\n  \"c\": {}\n}|{\"b\":1,\"a\":[1,2.5,null,true],\"c\":{}}|\"h\\u00e9llo \\ud83d\\ude42\"|{\n \"e\": [],\n \"f\": {}\n}"),
        ("{{ messages[0].content | tojson }}{{ s | tojson }}", "\" Sys\u00a0\"\"Hello, World\""),
    ];

    public static readonly (string Template, string Expected)[] MacrosAndGlobals =
    [
        ("{% macro greet(name, punct='!') %}Hello {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }} {{ greet(name='Cy') }}", "Hello Bob! Hello Al? Hello Cy!"),
        ("{% macro m(x) %}{% for i in range(x) %}{{ i }}{% endfor %}{% endmacro %}{{ m(3) }}|{{ range(1, 10, 3) | list }}|{{ range(3, 0, -1) | list }}", "012|[1, 4, 7]|[3, 2, 1]"),
        ("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %j %I%p %a %y') }}", "05 Mar 2025|2025-03-05 12:00:00 Wednesday March 064 12PM Wed 25"),
        ("{% filter upper %}shout {{ n }}{% endfilter %}", "SHOUT 7"),
        ("{{ dict(a=1, b='x') }}", "{'a': 1, 'b': 'x'}"),
        ("{% set a = 5 %}{% with a = 1, b = a + 1 %}{{ a }}{{ b }}{% endwith %}{{ a }}{{ b }}", "165"),
        ("{{ '%s has %d items' | format('list', 3) }}|{{ '%s' | format(none) }}|{{ 'x' ~ ('%r' | format('q')) }}", "list has 3 items|None|x'q'"),
    ];

    public static readonly (string Template, string Error)[] RuntimeErrors =
    [
        ("{{ raise_exception('custom failure: ' ~ n) }}", "custom failure: 7"),
        ("{{ nothere.attr }}", "'nothere' is undefined"),
        ("{{ nothere + 1 }}", "'nothere' is undefined"),
        ("{{ s.bogus() }}", "'str object' has no attribute 'bogus'"),
        ("{{ 'a' + 1 }}", "can only concatenate str (not \"int\") to str"),
        ("{{ 1 / 0 }}", "division by zero"),
        ("{% for x in none %}{% endfor %}", "'NoneType' object is not iterable"),
        ("{{ items | nosuchfilter }}", "No filter named 'nosuchfilter'."),
        ("{{ n is nosuchtest }}", "No test named 'nosuchtest'."),
        ("{{ items.append(4) }}", "access to attribute 'append' of 'list' object is unsafe."),
        ("{{ messages[5]['role'] }}", "list object has no element 5"),
        ("{% set x = 1 %}{{ x.y.z }}", "'int object' has no attribute 'y'"),
        ("{% set ns = 1 %}{% set ns.a = 2 %}", "cannot assign attribute on non-namespace object"),
        ("{{ 1 < 'a' }}", "'<' not supported between instances of 'int' and 'str'"),
    ];

    public static readonly (string Template, int Line)[] SyntaxErrors =
    [
        ("{% if %}", 1),
        ("{% if t %}unterminated", 1),
        ("{% endfor %}", 1),
        ("{{ 'unterminated }}", 1),
        ("{% foo %}", 1),
        ("{{ (1 + }}", 1),
    ];

    public static readonly (string Template, string Expected)[] GeneratorsAndMarkup =
    [
        ("{% set g = items | map('string') %}{{ g | list }}{{ g | list }}", "['3', '1', '2'][]"),
        ("{% if items | select('none') %}truthy{% endif %}|{{ items | select('odd') | first }}|{{ items | map('string') | reverse | join }}", "truthy|3|213"),
        ("{{ none | map('upper') | list }}{{ none | selectattr('x') | list }}|{{ nothere | items | list }}", "[][]|[]"),
        ("{{ (items | map('string')) is sequence }}{{ (items | map('string')) is iterable }}{{ 2 in items | map('int') }}", "FalseTrueTrue"),
        ("{{ 'a<b' | safe + '<i>' }}|{{ '<i>' + 'x' | safe }}|{{ 'a&b' | e }}|{{ ('<' | safe) ~ '<' }}|{{ ('x' | safe) == 'x' }}|{{ ('ab' | safe) | length }}", "a<b&lt;i&gt;|&lt;i&gt;x|a&amp;b|<<|True|2"),
        ("{{ 'Use ' | safe + d | tojson }}", "Use {&#34;b&#34;: 1, &#34;a&#34;: [1, 2.5, null, true], &#34;c&#34;: {}}"),
    ];

    public static readonly (string Template, string Error)[] GeneratorAndMarkupErrors =
    [
        ("{{ items | map('string') | length }}", "object of type 'generator' has no len()"),
        ("{{ items | map('string') | tojson }}", "Object of type generator is not JSON serializable"),
        ("{{ items | select | last }}", "'generator' object is not reversible"),
        ("{{ items + 'x' }}", "can only concatenate list (not \"str\") to list"),
        ("{{ (1, 2) + [3] }}", "can only concatenate tuple (not \"list\") to tuple"),
        ("{{ 3 | items | list }}", "Can only get item pairs from a mapping."),
    ];

    public static readonly (string Template, string Expected)[] PythonSemantics =
    [
        ("{{ 2.5 is odd }}{{ 3.0 is odd }}{{ 4 is divisibleby 2 }}|{{ 'a-b c_d 2.5' | wordcount }}|{{ d is lower }}{{ 'ABC1' is upper }}{{ '123' is lower }}", "FalseTrueTrue|5|FalseTrueFalse"),
        ("{{ 2 * [1, 'x'] }}|{{ [nothere, 1] }}|{{ 7 | round(1) }}|{{ 2.567 | round(2, 'floor') }}|{{ '' % [1] }}|{{ '%s!' % 'x' }}", "[1, 'x', 1, 'x']|[Undefined, 1]|7|2.56||x!"),
        ("{{ items | unique | list }}|{{ items | unique | first }}|{{ ['a', 'A', 'b'] | unique(case_sensitive=true) | join }}", "[3, 1, 2]|3|aAb"),
    ];

    public static readonly (string Template, string Error)[] PythonSemanticsErrors =
    [
        ("{{ [[1], [1]] | unique | list }}", "unhashable type: 'list'"),
        ("{{ 'a' is odd }}", "not all arguments converted during string formatting"),
        ("{{ items[1:] ~ s[::2] ~ (n)[1:] }}", "'int' object is not subscriptable"),
        ("{{ nothere | int }}", "'nothere' is undefined"),
    ];
}
