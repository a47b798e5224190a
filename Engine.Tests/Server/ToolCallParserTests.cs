using System.Text.Json.Nodes;
using Engine.Server.Tools;
using NUnit.Framework;

namespace Engine.Tests.Server;

/// <summary>Tool calls parsed back from Qwen2.5's &lt;tool_call&gt; blocks and Llama 3.1's JSON, whole and streamed.</summary>
[TestFixture]
public sealed class ToolCallParserTests
{
    private const string QwenTwo =
        "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"c\"}}\n</tool_call>\n" +
        "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"CET\"}}\n</tool_call>";

    [Test]
    public void Qwen_blocks_become_calls_and_text_before_them_content()
    {
        var result = ToolCallParser.ParseQwen(QwenTwo);
        Assert.That(result.Content, Is.EqualTo("Let me check."));
        Assert.That(result.Calls.Select(c => c.Name), Is.EqualTo(new[] { "get_weather", "get_time" }));
        Assert.That(JsonNode.Parse(result.Calls[0].Arguments)!["city"]!.GetValue<string>(), Is.EqualTo("Paris"));
        Assert.That(result.Calls.Select(c => c.Id).Distinct().Count(), Is.EqualTo(2));
        Assert.That(result.Calls.All(c => c.Id.StartsWith("call_", StringComparison.Ordinal)));
    }

    [Test]
    public void Qwen_text_without_calls_or_with_broken_json_stays_content()
    {
        Assert.That(ToolCallParser.ParseQwen("just words").Calls, Is.Empty);
        var broken = ToolCallParser.ParseQwen("<tool_call>{\"name\": oops}</tool_call>");
        Assert.That(broken.Calls, Is.Empty);
        Assert.That(broken.Content, Is.EqualTo("<tool_call>{\"name\": oops}</tool_call>"));
    }

    [Test]
    public void Qwen_unclosed_last_call_is_still_parsed()
    {
        var result = ToolCallParser.ParseQwen("<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n");
        Assert.That(result.Calls.Single().Name, Is.EqualTo("f"));
        Assert.That(result.Calls[0].Arguments, Is.EqualTo("{}"));
    }

    [Test]
    public void Llama31_json_object_with_parameters_is_a_call()
    {
        var result = ToolCallParser.ParseLlama31("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}");
        Assert.That(result.Content, Is.Empty);
        Assert.That(result.Calls.Single().Name, Is.EqualTo("get_weather"));
        Assert.That(JsonNode.Parse(result.Calls[0].Arguments)!["city"]!.GetValue<string>(), Is.EqualTo("Oslo"));
    }

    [Test]
    public void Llama31_python_tag_and_semicolon_separated_calls()
    {
        var result = ToolCallParser.ParseLlama31("<|python_tag|>{\"name\": \"a\", \"parameters\": {\"s\": \"x;y\"}}; {\"name\": \"b\", \"arguments\": {}}");
        Assert.That(result.Calls.Select(c => c.Name), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(JsonNode.Parse(result.Calls[0].Arguments)!["s"]!.GetValue<string>(), Is.EqualTo("x;y"));
    }

    [Test]
    public void Llama31_plain_text_or_json_without_name_stays_content()
    {
        Assert.That(ToolCallParser.ParseLlama31("Hello there").Calls, Is.Empty);
        var other = ToolCallParser.ParseLlama31("{\"answer\": 42}");
        Assert.That(other.Calls, Is.Empty);
        Assert.That(other.Content, Is.EqualTo("{\"answer\": 42}"));
    }

    [Test]
    public void Qwen_stream_passes_content_and_holds_back_the_call_in_any_chunking()
    {
        for (int size = 1; size <= 7; size++)
        {
            var stream = new ToolCallStream(ToolCallFormat.Qwen);
            var content = new System.Text.StringBuilder();
            for (int i = 0; i < QwenTwo.Length; i += size)
            {
                string piece = stream.Push(QwenTwo.Substring(i, Math.Min(size, QwenTwo.Length - i)));
                Assert.That(piece, Does.Not.Contain("<"), $"chunk size {size}: nothing of a call leaks as content");
                content.Append(piece);
            }
            var end = stream.Finish();
            Assert.That((content + end.Content).TrimEnd(), Is.EqualTo("Let me check."), $"chunk size {size}");
            Assert.That(end.Calls.Select(c => c.Name), Is.EqualTo(new[] { "get_weather", "get_time" }), $"chunk size {size}");
        }
    }

    [Test]
    public void Qwen_stream_releases_a_lone_angle_bracket_that_is_no_call()
    {
        var stream = new ToolCallStream(ToolCallFormat.Qwen);
        string sent = stream.Push("a <b") + stream.Push("> c");
        var end = stream.Finish();
        Assert.That(sent + end.Content, Is.EqualTo("a <b> c"));
        Assert.That(end.Calls, Is.Empty);
    }

    [Test]
    public void Llama31_stream_decides_on_the_first_character()
    {
        var call = new ToolCallStream(ToolCallFormat.Llama31);
        Assert.That(call.Push(" {\"name\": \"f\", ") + call.Push("\"parameters\": {}}"), Is.Empty);
        Assert.That(call.Finish().Calls.Single().Name, Is.EqualTo("f"));

        var text = new ToolCallStream(ToolCallFormat.Llama31);
        Assert.That(text.Push("Hi") + text.Push(" {there}"), Is.EqualTo("Hi {there}"));
        Assert.That(text.Finish().Calls, Is.Empty);
    }

    [Test]
    public void Format_is_detected_from_the_chat_template()
    {
        Assert.That(ToolCallFormats.Detect(Engine.Core.Text.Templates.ChatTemplate.Parse("{{ '<tool_call>' }}")), Is.EqualTo(ToolCallFormat.Qwen));
        Assert.That(ToolCallFormats.Detect(Engine.Core.Text.Templates.ChatTemplate.Parse("{{ '<|start_header_id|>' }}")), Is.EqualTo(ToolCallFormat.Llama31));
        Assert.That(ToolCallFormats.Detect(Engine.Core.Text.Templates.ChatTemplate.Parse("{{ 'x' }}")), Is.Null);
    }
}
