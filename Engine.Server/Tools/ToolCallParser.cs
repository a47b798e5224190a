using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Server.Tools;

/// <summary>
/// Turns a model's text back into content and tool calls.
/// Qwen2.5: each call is <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c>; text before the first is content.
/// Llama 3.1: the whole reply is one JSON object <c>{"name": ..., "parameters": {...}}</c> (several may be separated by ';').
/// Text that does not parse stays content: nothing the model wrote is dropped.
/// </summary>
public static class ToolCallParser
{
    public const string QwenOpen = "<tool_call>", QwenClose = "</tool_call>";

    public sealed record Result(string Content, IReadOnlyList<ToolCall> Calls);

    public static Result Parse(string text, ToolCallFormat format) => format switch
    {
        ToolCallFormat.Qwen => ParseQwen(text),
        _ => ParseLlama31(text),
    };

    public static Result ParseQwen(string text)
    {
        int first = text.IndexOf(QwenOpen, StringComparison.Ordinal);
        if (first < 0) return new Result(text, []);
        var calls = new List<ToolCall>();
        int at = first;
        while (at >= 0)
        {
            int bodyStart = at + QwenOpen.Length;
            int close = text.IndexOf(QwenClose, bodyStart, StringComparison.Ordinal);
            string body = close < 0 ? text[bodyStart..] : text[bodyStart..close]; // an unclosed last call (max tokens) is still tried
            if (ToCall(body) is not { } call) return new Result(text, []);
            calls.Add(call);
            if (close < 0) break;
            at = text.IndexOf(QwenOpen, close + QwenClose.Length, StringComparison.Ordinal);
        }
        return new Result(text[..first].TrimEnd(), calls);
    }

    public static Result ParseLlama31(string text)
    {
        string body = text.Trim();
        if (body.StartsWith("<|python_tag|>", StringComparison.Ordinal)) body = body["<|python_tag|>".Length..].Trim();
        if (!body.StartsWith('{')) return new Result(text, []);
        var calls = new List<ToolCall>();
        foreach (string part in SplitTopLevel(body))
        {
            if (ToCall(part) is not { } call) return new Result(text, []);
            calls.Add(call);
        }
        return calls.Count == 0 ? new Result(text, []) : new Result("", calls);
    }

    /// <summary>{"name": string, "arguments" or "parameters": object or JSON string} → a call; anything else null.</summary>
    private static ToolCall? ToCall(string json)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json.Trim());
        }
        catch (JsonException)
        {
            return null;
        }
        if (node is not JsonObject o || o["name"] is not JsonValue name || name.GetValueKind() != JsonValueKind.String) return null;
        string arguments = (o["arguments"] ?? o["parameters"]) switch
        {
            null => "{}",
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonObject args => args.ToJsonString(),
            _ => null!,
        };
        return arguments is null ? null : new ToolCall(ToolCall.NewId(), name.GetValue<string>(), arguments);
    }

    /// <summary>Splits "{...}; {...}" at top-level semicolons (outside strings and braces).</summary>
    private static IEnumerable<string> SplitTopLevel(string text)
    {
        int depth = 0, start = 0;
        bool inString = false, escaped = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (inString)
            {
                if (escaped) escaped = false;
                else if (c == '\\') escaped = true;
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') inString = true;
            else if (c is '{' or '[') depth++;
            else if (c is '}' or ']') depth--;
            else if (c == ';' && depth == 0)
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        if (start < text.Length && text[start..].Trim().Length > 0) yield return text[start..];
    }
}
