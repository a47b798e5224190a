using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Core.Hub;
using Engine.Core.Text.Templates;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine template --model M --messages FILE.json`: prints the prompt the model's chat template renders,
/// exactly as Hugging Face's apply_chat_template(..., tokenize=False) would.
/// </summary>
internal static class TemplateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model: a registry name, an org/name repo id or a local folder (tokenizer_config.json and/or chat_template.jinja suffice)", Required = true };
        var messages = new Option<string>("--messages") { Description = "JSON file: an array of messages ({\"role\", \"content\", ...}) or an object with a \"messages\" array", Required = true };
        var tools = new Option<string?>("--tools") { Description = "JSON file: an array of tool (function) schemas passed as `tools`" };
        var noGenerationPrompt = new Option<bool>("--no-generation-prompt") { Description = "Render without the assistant generation prompt (add_generation_prompt=false)" };
        var variables = new Option<string[]>("--var") { Description = "Extra template variable NAME=JSON (repeatable), e.g. --var 'date_string=\"26 Jul 2024\"'" };
        var date = new Option<string?>("--date") { Description = "Fix the clock strftime_now reads to YYYY-MM-DD (12:00 that day; default: now)" };
        var json = new Option<bool>("--json") { Description = "Print {\"text\": ...} instead of the raw prompt" };
        var command = new Command("template", "Render a model's chat template for a conversation");
        foreach (var option in new Option[] { model, messages, tools, noGenerationPrompt, variables, date, json })
            command.Options.Add(option);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            string folder = ModelLocator.ResolveFolder(pr.GetValue(model)!);
            var template = ChatTemplate.LoadRequired(folder);
            var conversation = ReadMessages(pr.GetValue(messages)!);
            JsonArray? toolList = pr.GetValue(tools) is { } toolsPath ? ReadTools(toolsPath) : null;
            var extra = ParseVariables(pr.GetValue(variables) ?? []);
            DateTime now = pr.GetValue(date) is { } day ? ParseDate(day) : DateTime.Now;
            string text = template.Render(conversation, toolList, !pr.GetValue(noGenerationPrompt), extra, now);
            var output = pr.InvocationConfiguration.Output;
            if (pr.GetValue(json))
            {
                var options = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
                output.WriteLine(new JsonObject { ["text"] = text }.ToJsonString(options));
            }
            else output.Write(text);
            return 0;
        }));
        return command;
    }

    private static JsonNode? ReadJsonFile(string path, string what)
    {
        if (!File.Exists(path)) throw new EngineException($"{what} file '{path}' not found");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new EngineException($"{what} file '{path}' is not valid JSON: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    private static List<JsonObject> ReadMessages(string path)
    {
        var node = ReadJsonFile(path, "messages");
        if (node is JsonObject wrapper && wrapper["messages"] is JsonArray inner) node = inner;
        if (node is not JsonArray list)
            throw new EngineException($"messages file '{path}' must hold a JSON array of messages or an object with a \"messages\" array");
        var result = new List<JsonObject>();
        foreach (var item in list)
        {
            if (item is not JsonObject message)
                throw new EngineException($"messages file '{path}': every message must be a JSON object, got {item?.ToJsonString() ?? "null"}");
            result.Add(message);
        }
        return result;
    }

    private static JsonArray ReadTools(string path)
    {
        var node = ReadJsonFile(path, "tools");
        if (node is JsonObject wrapper && wrapper["tools"] is JsonArray inner) node = inner;
        return node as JsonArray ?? throw new EngineException($"tools file '{path}' must hold a JSON array of tool schemas");
    }

    private static Dictionary<string, JsonNode?> ParseVariables(string[] assignments)
    {
        var result = new Dictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (string assignment in assignments)
        {
            int eq = assignment.IndexOf('=');
            string name = eq > 0 ? assignment[..eq] : "";
            if (eq <= 0 || !IsIdentifier(name))
                throw new EngineException($"--var expects NAME=JSON (e.g. tools_in_user_message=false), got '{assignment}'");
            try
            {
                result[name] = JsonNode.Parse(assignment[(eq + 1)..]);
            }
            catch (JsonException)
            {
                throw new EngineException($"--var {name}: value is not valid JSON (quote strings: {name}='\"text\"'): {assignment[(eq + 1)..]}");
            }
        }
        return result;
    }

    private static bool IsIdentifier(string name) =>
        (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private static DateTime ParseDate(string text) =>
        DateTime.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? day.AddHours(12)
            : throw new EngineException($"--date expects YYYY-MM-DD, got '{text}'");
}
