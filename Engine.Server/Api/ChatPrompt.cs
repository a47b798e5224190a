using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Core.Text.Templates;
using Engine.Server.Tools;

namespace Engine.Server.Api;

/// <summary>
/// A chat request's prompt: OpenAI messages turned into what chat templates read (text parts joined,
/// tool-call arguments as objects), rendered with the tools, tokenized without added special tokens
/// (the template writes them). <see cref="ToolFormat"/> is set when the reply should be parsed for tool calls.
/// </summary>
public sealed record ChatPrompt(int[] Ids, ToolCallFormat? ToolFormat)
{
    public static ChatPrompt Build(JsonObject body, EngineGateway gateway)
    {
        var engine = gateway.Engine;
        var template = gateway.ChatTemplate ?? throw ApiException.BadRequest(
            $"model '{gateway.Options.ModelId}' has no chat template: use /v1/completions, or start the server with --chat-template FILE", "messages");
        var tokenizer = engine.Tokenizer ?? throw ApiException.BadRequest("the model has no tokenizer: chat needs one", "messages");
        var messages = JsonFields.Array(body, "messages") ?? throw ApiException.BadRequest("'messages' is required", "messages", "missing_field");
        if (messages.Count == 0) throw ApiException.BadRequest("'messages' must not be empty", "messages");
        var converted = messages.Select((m, i) => Message(m, i)).ToList();

        var tools = JsonFields.Array(body, "tools");
        string? choice = body["tool_choice"] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => throw ApiException.BadRequest("tool_choice naming a function is not supported (the model cannot be forced to call it); use \"auto\" or \"none\"", "tool_choice", "unsupported_field"),
        };
        if (choice is not (null or "auto" or "none"))
            throw ApiException.BadRequest($"tool_choice '{choice}' is not supported; use \"auto\" or \"none\"", "tool_choice", "unsupported_field");
        if (choice == "none" || tools is { Count: 0 }) tools = null;
        ToolCallFormat? format = null;
        if (tools is not null)
        {
            format = ToolCallFormats.Detect(template) ?? throw ApiException.BadRequest(
                "this model's chat template shows no tool-call format (Qwen2.5 <tool_call> or Llama 3.1 JSON): tools are not supported", "tools", "unsupported_field");
            tools = (JsonArray)tools.DeepClone();
        }

        var variables = JsonFields.Object(body, "chat_template_kwargs")?.ToDictionary(p => p.Key, p => p.Value?.DeepClone());
        bool addGenerationPrompt = JsonFields.Bool(body, "add_generation_prompt") ?? true;
        string text;
        try
        {
            text = template.Render(converted, tools, addGenerationPrompt, variables, DateTime.Now);
        }
        catch (TemplateError e)
        {
            throw ApiException.BadRequest($"the chat template failed on these messages: {e.Message}", "messages");
        }
        return new ChatPrompt(tokenizer.Encode(text, addSpecialTokens: false), format);
    }

    private static JsonObject Message(JsonNode? node, int index)
    {
        string at = $"messages[{index}]";
        if (node is not JsonObject m) throw JsonFields.Wrong(at, "an object");
        string role = JsonFields.String(m, "role", $"{at}.role") ?? throw ApiException.BadRequest($"'{at}.role' is required", $"{at}.role", "missing_field");
        if (role is not ("system" or "developer" or "user" or "assistant" or "tool"))
            throw ApiException.BadRequest($"'{at}.role' must be system, developer, user, assistant or tool, got '{role}'", $"{at}.role");
        var result = new JsonObject { ["role"] = role == "developer" ? "system" : role, ["content"] = Content(m["content"], at) };
        if (JsonFields.Array(m, "tool_calls", $"{at}.tool_calls") is { } calls)
            result["tool_calls"] = new JsonArray(calls.Select(c => (JsonNode?)ToolCallForTemplate(c, at)).ToArray());
        foreach (string key in new[] { "name", "tool_call_id" })
            if (JsonFields.String(m, key, $"{at}.{key}") is { } value) result[key] = value;
        return result;
    }

    private static string Content(JsonNode? content, string at) => content switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonArray parts => string.Concat(parts.Select((p, i) =>
            p is JsonObject part && JsonFields.String(part, "type", $"{at}.content[{i}].type") == "text"
                ? JsonFields.String(part, "text", $"{at}.content[{i}].text") ?? ""
                : throw ApiException.BadRequest($"'{at}.content[{i}]': only text parts are supported", $"{at}.content", "unsupported_field"))),
        _ => throw JsonFields.Wrong($"{at}.content", "a string or a list of text parts"),
    };

    // Templates read arguments as a mapping (Hugging Face's convention); OpenAI sends a JSON string.
    private static JsonObject ToolCallForTemplate(JsonNode? call, string at)
    {
        if (call is not JsonObject c) throw JsonFields.Wrong($"{at}.tool_calls", "a list of objects");
        var copy = (JsonObject)c.DeepClone();
        if (copy["function"] is JsonObject function && function["arguments"] is JsonValue args && args.GetValueKind() == JsonValueKind.String)
        {
            try
            {
                if (JsonNode.Parse(args.GetValue<string>()) is JsonObject parsed) function["arguments"] = parsed;
            }
            catch (JsonException) { } // not JSON: the template gets the string as it came
        }
        return copy;
    }
}
