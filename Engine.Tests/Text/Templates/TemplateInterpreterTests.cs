using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Core.Text.Templates;
using NUnit.Framework;

namespace Engine.Tests.Text.Templates;

/// <summary>The Jinja subset interpreter on its own: whitespace control, loops, namespace, filters, tests, errors.</summary>
public class TemplateInterpreterTests
{
    private static readonly DateTime Clock = new(2025, 3, 5, 12, 0, 0);

    private static string Render(string template, bool addGenerationPrompt = true)
    {
        var context = JsonNode.Parse(TemplateInterpreterCases.Context)!.AsObject();
        var messages = context["messages"]!.AsArray().Select(m => m!.AsObject()).ToList();
        var variables = context.Where(kv => kv.Key != "messages").ToDictionary(kv => kv.Key, kv => kv.Value);
        return ChatTemplate.Parse(template).Render(messages, null, addGenerationPrompt, variables, Clock);
    }

    private static IEnumerable<TestCaseData> Data((string Template, string Expected)[] cases, string category) =>
        cases.Select((c, i) => new TestCaseData(c.Template, c.Expected).SetName($"{category} {i}: {Shorten(c.Template)}"));

    private static string Shorten(string template)
    {
        string flat = template.Replace("\n", "\\n").Replace("\r", "\\r").Replace("(", "[").Replace(")", "]");
        return flat.Length > 60 ? flat[..60] + "..." : flat;
    }

    public static IEnumerable<TestCaseData> WhitespaceCases() => Data(TemplateInterpreterCases.Whitespace, "whitespace");
    public static IEnumerable<TestCaseData> LoopCases() => Data(TemplateInterpreterCases.Loops, "loops");
    public static IEnumerable<TestCaseData> SetCases() => Data(TemplateInterpreterCases.SetAndNamespace, "set");
    public static IEnumerable<TestCaseData> ConditionalCases() => Data(TemplateInterpreterCases.Conditionals, "if");
    public static IEnumerable<TestCaseData> TestCases() => Data(TemplateInterpreterCases.Tests, "tests");
    public static IEnumerable<TestCaseData> OperatorCases() => Data(TemplateInterpreterCases.Operators, "operators");
    public static IEnumerable<TestCaseData> PrintingCases() => Data(TemplateInterpreterCases.Printing, "printing");
    public static IEnumerable<TestCaseData> SubscriptCases() => Data(TemplateInterpreterCases.Subscripts, "subscripts");
    public static IEnumerable<TestCaseData> MethodCases() => Data(TemplateInterpreterCases.Methods, "methods");
    public static IEnumerable<TestCaseData> FilterCases() => Data(TemplateInterpreterCases.Filters, "filters");
    public static IEnumerable<TestCaseData> ToJsonCases() => Data(TemplateInterpreterCases.ToJson, "tojson");
    public static IEnumerable<TestCaseData> MacroCases() => Data(TemplateInterpreterCases.MacrosAndGlobals, "macros");
    public static IEnumerable<TestCaseData> GeneratorCases() => Data(TemplateInterpreterCases.GeneratorsAndMarkup, "generators");
    public static IEnumerable<TestCaseData> PythonCases() => Data(TemplateInterpreterCases.PythonSemantics, "python");

    [TestCaseSource(nameof(WhitespaceCases))]
    [TestCaseSource(nameof(LoopCases))]
    [TestCaseSource(nameof(SetCases))]
    [TestCaseSource(nameof(ConditionalCases))]
    [TestCaseSource(nameof(TestCases))]
    [TestCaseSource(nameof(OperatorCases))]
    [TestCaseSource(nameof(PrintingCases))]
    [TestCaseSource(nameof(SubscriptCases))]
    [TestCaseSource(nameof(MethodCases))]
    [TestCaseSource(nameof(FilterCases))]
    [TestCaseSource(nameof(ToJsonCases))]
    [TestCaseSource(nameof(MacroCases))]
    [TestCaseSource(nameof(GeneratorCases))]
    [TestCaseSource(nameof(PythonCases))]
    public void RendersLikeJinja(string template, string expected) => Assert.That(Render(template), Is.EqualTo(expected));

    public static IEnumerable<TestCaseData> RuntimeErrorCases() =>
        TemplateInterpreterCases.RuntimeErrors.Concat(TemplateInterpreterCases.GeneratorAndMarkupErrors).Concat(TemplateInterpreterCases.PythonSemanticsErrors)
            .Select((c, i) => new TestCaseData(c.Template, c.Error).SetName($"error {i}: {Shorten(c.Template)}"));

    [TestCaseSource(nameof(RuntimeErrorCases))]
    public void RuntimeErrorHasJinjasMessage(string template, string error)
    {
        var e = Assert.Throws<TemplateError>(() => Render(template));
        Assert.That(e!.Detail, Is.EqualTo(error));
        Assert.That(e.Message, Is.EqualTo("chat template error: " + error));
        Assert.That(e, Is.InstanceOf<EngineException>());
    }

    public static IEnumerable<TestCaseData> SyntaxErrorCases() =>
        TemplateInterpreterCases.SyntaxErrors.Select((c, i) => new TestCaseData(c.Template, c.Line).SetName($"syntax {i}: {Shorten(c.Template)}"));

    [TestCaseSource(nameof(SyntaxErrorCases))]
    public void SyntaxErrorIsOneLineWithItsLine(string template, int line)
    {
        var e = Assert.Throws<TemplateError>(() => ChatTemplate.Parse(template));
        Assert.That(e!.Message, Does.StartWith($"chat template error: line {line}: "));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void SyntaxErrorReportsTheLineItIsOn()
    {
        var e = Assert.Throws<TemplateError>(() => ChatTemplate.Parse("a\nb\n{{ x + }}\n"));
        Assert.That(e!.Message, Does.StartWith("chat template error: line 3: "));
    }

    [Test]
    public void GenerationTagRendersItsBody() =>
        Assert.That(Render("{% generation %}gen {{ n }}{% endgeneration %}"), Is.EqualTo("gen 7"));

    [Test]
    public void ContentThatLooksLikeJinjaIsNotEvaluated()
    {
        var messages = new List<JsonObject> { new ChatMessage("user", "{{ not_a_variable }} {% if %}") };
        string text = ChatTemplate.Parse("{{ messages[0].content }}").Render(messages, null, false, null, Clock);
        Assert.That(text, Is.EqualTo("{{ not_a_variable }} {% if %}"));
    }

    [Test]
    public void JsonIntegersStayIntegersAndKeyOrderIsKept()
    {
        var variables = new Dictionary<string, JsonNode?>
        {
            ["v"] = JsonNode.Parse("""{"z": 1, "a": 2.0, "m": -3, "big": 12345678901234, "e": 1e3}"""),
            ["c"] = JsonValue.Create(4.5),
            ["i"] = JsonValue.Create(9),
        };
        string text = ChatTemplate.Parse("{{ v | tojson }} {{ v.a }} {{ c }} {{ i + 1 }}").Render([], null, false, variables, Clock);
        Assert.That(text, Is.EqualTo("""{"z": 1, "a": 2.0, "m": -3, "big": 12345678901234, "e": 1000.0} 2.0 4.5 10"""));
    }

    [Test]
    public void ExtraVariablesOverrideSpecialTokens()
    {
        var template = ChatTemplate.Parse("{{ bos_token }}|{{ eos_token }}|{{ unk_token is defined }}", new Dictionary<string, JsonNode?>
        {
            ["bos_token"] = JsonNode.Parse("""{"__type": "AddedToken", "content": "<s>", "lstrip": false}"""),
            ["eos_token"] = "</s>",
            ["unk_token"] = null,
        });
        Assert.That(template.Render([], null, true, null, Clock), Is.EqualTo("<s>|</s>|False"));
        var extra = new Dictionary<string, JsonNode?> { ["eos_token"] = "<|end|>" };
        Assert.That(template.Render([], null, true, extra, Clock), Is.EqualTo("<s>|<|end|>|False"));
    }

    [Test]
    public void StrftimeNowReadsTheGivenClock()
    {
        string text = ChatTemplate.Parse("{{ strftime_now('%d %b %Y %H:%M') }}").Render([], null, true, null, new DateTime(2024, 12, 1, 9, 5, 0));
        Assert.That(text, Is.EqualTo("01 Dec 2024 09:05"));
    }

    [Test]
    public void StrftimeNowSupportsGlibcFlags()
    {
        // Expected text from Python 3.11's datetime(2025, 3, 5, 9, 4).strftime on Linux.
        string text = ChatTemplate.Parse("{{ strftime_now('%-d %B %Y|%^b %-m/%-d %-H:%M|%e|%j %-j') }}").Render([], null, true, null, new DateTime(2025, 3, 5, 9, 4, 0));
        Assert.That(text, Is.EqualTo("5 March 2025|MAR 3/5 9:04| 5|064 64"));
    }

    [Test]
    public void ChatMessageConvertsToJsonObject()
    {
        JsonObject json = new ChatMessage("user", "hello");
        Assert.That(json.ToJsonString(), Is.EqualTo("""{"role":"user","content":"hello"}"""));
        string text = ChatTemplate.Parse("{% for m in messages %}{{ m.role }}:{{ m.content }}{% endfor %}{{ add_generation_prompt }}")
            .Render([new ChatMessage("system", "s"), new ChatMessage("user", "u")], addGenerationPrompt: false);
        Assert.That(text, Is.EqualTo("system:suser:uFalse"));
    }

    [Test]
    public void RunawayMacroRecursionIsAnError()
    {
        var e = Assert.Throws<TemplateError>(() => Render("{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}"));
        Assert.That(e!.Detail, Does.Contain("recursion"));
    }

    [Test]
    public void HugeRangeIsAnError() =>
        Assert.Throws<TemplateError>(() => Render("{% for i in range(10000000) %}{% endfor %}"));

    [Test]
    public void DeeplyNestedTemplateIsAnErrorNotACrash()
    {
        Assert.Throws<TemplateError>(() => ChatTemplate.Parse("{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}"));
        Assert.Throws<TemplateError>(() => ChatTemplate.Parse(string.Concat(Enumerable.Repeat("{% if 1 %}", 5000))));
        Assert.Throws<TemplateError>(() => ChatTemplate.Parse("{{ " + string.Concat(Enumerable.Repeat("not ", 5000)) + "1 }}"));
        Assert.Throws<TemplateError>(() => Render("{{ 1" + string.Concat(Enumerable.Repeat(" + 1", 5000)) + " }}"));
    }

    [Test]
    public void DeeplyNestedDataIsAnErrorNotACrash()
    {
        const string build = "{% set ns = namespace(x=[]) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}";
        Assert.Throws<TemplateError>(() => Render(build + "{{ ns.x }}"));
        Assert.Throws<TemplateError>(() => Render(build + "{{ ns.x | tojson }}"));
        Assert.Throws<TemplateError>(() => Render(build + "{{ ns.x == [ns.x] }}"));
    }

    [TestCase("{{ 'ab' * 100000000000 }}")]
    [TestCase("{{ [1, 2] * 100000000000 }}")]
    [TestCase("{{ 'x'.center(100000000000) }}")]
    [TestCase("{{ 'x'.zfill(100000000000) }}")]
    [TestCase("{{ 'a\\nb' | indent(100000000000) }}")]
    [TestCase("{{ {} | tojson(indent=100000000000) }}")]
    public void HugeResultIsAnError(string template) => Assert.Throws<TemplateError>(() => Render(template));

    [Test]
    public void RepeatingEmptyThingsIsEmpty() => Assert.That(Render("{{ '' * 100000000000 }}{{ [] * 100000000000 }}"), Is.EqualTo("[]"));

    [Test]
    public void IntegerOverflowIsAnError() =>
        Assert.Throws<TemplateError>(() => Render("{{ 9223372036854775807 + 1 }}"));
}
