using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Core.Text.Templates;

/// <summary>
/// Turns System.Text.Json nodes into template values as Python's json.loads would: objects keep their key
/// order, integers stay integers (long), other numbers become floats.
/// </summary>
internal static class TemplateValues
{
    public static object? FromJson(JsonNode? node)
    {
        switch (node)
        {
            case null: return null;
            case JsonObject obj:
                {
                    var dict = new PyDict();
                    foreach (var (key, value) in obj) dict[key] = FromJson(value);
                    return dict;
                }
            case JsonArray array: return array.Select(FromJson).ToList();
            case JsonValue value: return FromJsonValue(value);
            default: throw new TemplateError($"unsupported JSON node {node.GetType().Name}");
        }
    }

    private static object? FromJsonValue(JsonValue value)
    {
        switch (value.GetValueKind())
        {
            case JsonValueKind.Null or JsonValueKind.Undefined: return null;
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return value.GetValue<string>();
            case JsonValueKind.Number:
                {
                    if (!value.TryGetValue<JsonElement>(out _) &&
                        (value.TryGetValue<double>(out _) || value.TryGetValue<float>(out _) || value.TryGetValue<decimal>(out _)))
                        return value.TryGetValue<decimal>(out var m) ? (double)m : value.TryGetValue<float>(out var f) ? (double)f : value.GetValue<double>();
                    string raw = value.ToJsonString();
                    bool integral = raw.IndexOfAny(['.', 'e', 'E']) < 0;
                    if (integral && long.TryParse(raw, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                    return double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
                }
            default: throw new TemplateError($"unsupported JSON value {value.ToJsonString()}");
        }
    }
}
