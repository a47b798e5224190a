using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Core.Text.Templates;

namespace Engine.Cli.Options;

/// <summary>
/// The chat-template inputs shared by `engine template` and `engine run`: `--tools FILE.json`,
/// `--var NAME=JSON` (repeatable) and `--date YYYY-MM-DD`, so that both paths render the same prompt.
/// </summary>
internal sealed class TemplateVariableOptions
{
    public readonly Option<string?> Tools = new("--tools") { Description = "JSON file: an array of tool (function) schemas passed as `tools`" };
    public readonly Option<string[]> Variables = new("--var") { Description = "Extra template variable NAME=JSON (repeatable), e.g. --var 'date_string=\"26 Jul 2024\"'" };
    public readonly Option<string?> Date = new("--date") { Description = "Fix the clock strftime_now reads to YYYY-MM-DD (12:00 that day; default: now)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Tools);
        command.Options.Add(Variables);
        command.Options.Add(Date);
    }

    public ChatRenderOptions Read(ParseResult parsed) => new(
        parsed.GetValue(Tools) is { } toolsPath ? ReadTools(toolsPath) : null,
        ParseVariables(parsed.GetValue(Variables) ?? []),
        parsed.GetValue(Date) is { } day ? ParseDate(day) : null);

    /// <summary>Parses a JSON file, or a one-line error naming it.</summary>
    public static JsonNode? ReadJsonFile(string path, string what)
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
