using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Server.Api;

/// <summary>Typed reads of request fields: a missing or null field is null, a field of the wrong type a 400 naming it.</summary>
public static class JsonFields
{
    public static string? String(JsonObject o, string name, string? path = null) =>
        o[name] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            _ => throw Wrong(path ?? name, "a string"),
        };

    public static bool? Bool(JsonObject o, string name, string? path = null) =>
        o[name] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
            _ => throw Wrong(path ?? name, "true or false"),
        };

    public static double? Number(JsonObject o, string name, string? path = null) =>
        o[name] switch
        {
            null => null,
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.GetValue<double>(),
            _ => throw Wrong(path ?? name, "a number"),
        };

    public static int? Int(JsonObject o, string name, string? path = null)
    {
        double? d = Number(o, name, path);
        if (d is null) return null;
        if (d != Math.Floor(d.Value) || d < int.MinValue || d > int.MaxValue) throw Wrong(path ?? name, "an integer");
        return (int)d.Value;
    }

    public static JsonObject? Object(JsonObject o, string name, string? path = null) =>
        o[name] switch
        {
            null => null,
            JsonObject obj => obj,
            _ => throw Wrong(path ?? name, "an object"),
        };

    public static JsonArray? Array(JsonObject o, string name, string? path = null) =>
        o[name] switch
        {
            null => null,
            JsonArray a => a,
            _ => throw Wrong(path ?? name, "an array"),
        };

    /// <summary>A list of token ids, or null when the node is not an array of integers.</summary>
    public static int[]? TokenIds(JsonNode? node)
    {
        if (node is not JsonArray a || a.Count == 0) return null;
        var ids = new int[a.Count];
        for (int i = 0; i < a.Count; i++)
        {
            if (a[i] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) return null;
            double d = v.GetValue<double>();
            if (d != Math.Floor(d) || d < 0 || d > int.MaxValue) return null;
            ids[i] = (int)d;
        }
        return ids;
    }

    public static ApiException Wrong(string name, string expected) =>
        ApiException.BadRequest($"'{name}' must be {expected}", name, "invalid_type");
}
