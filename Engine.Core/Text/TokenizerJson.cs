using System.Text.Json;
using System.Text.RegularExpressions;

namespace Engine.Core.Text;

/// <summary>
/// Small typed readers over tokenizer.json elements, turning a missing or mistyped field into an
/// <see cref="EngineException"/> that names it.
/// </summary>
internal static class TokenizerJson
{
    public static string TypeOf(JsonElement spec, string what)
    {
        if (spec.ValueKind != JsonValueKind.Object || !spec.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            throw new EngineException($"tokenizer.json: {what} has no \"type\"");
        return type.GetString()!;
    }

    public static string String(JsonElement spec, string name)
    {
        if (spec.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String) return value.GetString()!;
        throw new EngineException($"tokenizer.json: field \"{name}\" is missing or not a string");
    }

    public static bool Bool(JsonElement spec, string name, bool fallback) =>
        spec.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : fallback;

    public static int Int(JsonElement spec, string name, int fallback) =>
        spec.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : fallback;

    public static JsonElement.ArrayEnumerator Array(JsonElement spec, string name)
    {
        if (spec.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array) return value.EnumerateArray();
        throw new EngineException($"tokenizer.json: field \"{name}\" is missing or not an array");
    }

    /// <summary>A pattern object, <c>{"String": "..."}</c> (literal) or <c>{"Regex": "..."}</c>.</summary>
    public static Regex Pattern(JsonElement pattern)
    {
        const RegexOptions options = RegexOptions.Compiled | RegexOptions.CultureInvariant;
        if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
            return new Regex(Regex.Escape(literal.GetString()!), options);
        if (pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
        {
            try { return new Regex(regex.GetString()!, options); }
            catch (ArgumentException e) { throw new EngineException($"tokenizer.json: regex '{regex.GetString()}' is not usable: {e.Message}"); }
        }
        throw new EngineException("tokenizer.json: pattern is neither {\"String\": ...} nor {\"Regex\": ...}");
    }
}
