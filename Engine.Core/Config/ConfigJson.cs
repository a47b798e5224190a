using System.Text.Json;

namespace Engine.Core.Config;

/// <summary>
/// Typed reads of a JSON config object (config.json, generation_config.json) that turn every wrong or
/// missing value into a one-line <see cref="EngineException"/> naming the file and the key. A key set
/// to <c>null</c> counts as absent, as Hugging Face treats it.
/// </summary>
internal readonly struct ConfigJson
{
    private readonly JsonElement _object;

    public ConfigJson(JsonElement obj, string source)
    {
        _object = obj;
        Source = source;
    }

    public string Source { get; }

    /// <summary>Parses <paramref name="json"/>, which must hold a JSON object; the caller disposes the document.</summary>
    public static JsonDocument ParseObject(string json, string source)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new EngineException($"{source}: not valid JSON: {e.Message.ReplaceLineEndings(" ").Trim()}");
        }
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new EngineException($"{source}: not a JSON object");
        }
        return document;
    }

    public bool Has(string key) => TryGet(key, out _);

    public bool TryGet(string key, out JsonElement value) =>
        _object.TryGetProperty(key, out value) && value.ValueKind != JsonValueKind.Null;

    public EngineException Error(string message) => new($"{Source}: {message}");

    public string? GetString(string key)
    {
        if (!TryGet(key, out var v)) return null;
        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw Error($"\"{key}\" must be a string, found {Describe(v)}");
    }

    public int? GetInt(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && d >= int.MinValue && d <= int.MaxValue)
            return (int)d;
        throw Error($"\"{key}\" must be an integer, found {Describe(v)}");
    }

    public double? GetDouble(string key)
    {
        if (!TryGet(key, out var v)) return null;
        if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d)) return d;
        throw Error($"\"{key}\" must be a number, found {Describe(v)}");
    }

    public bool? GetBool(string key)
    {
        if (!TryGet(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"\"{key}\" must be true or false, found {Describe(v)}"),
        };
    }

    public int RequireInt(string key) => GetInt(key) ?? throw Error($"missing required key \"{key}\"");

    /// <summary>An integer that must be at least 1 (sizes and counts).</summary>
    public int RequirePositiveInt(string key) => Positive(key, RequireInt(key));

    public int Positive(string key, int value) => value > 0 ? value : throw Error($"\"{key}\" must be positive, found {value}");

    public double Positive(string key, double value) => value > 0 ? value : throw Error($"\"{key}\" must be positive, found {value}");

    /// <summary>The first key whose value is an object, or null.</summary>
    public string? FirstObjectKey()
    {
        foreach (var p in _object.EnumerateObject())
            if (p.Value.ValueKind == JsonValueKind.Object) return p.Name;
        return null;
    }

    /// <summary>A nested object, or null when absent.</summary>
    public ConfigJson? GetObject(string key)
    {
        if (!TryGet(key, out var v)) return null;
        return v.ValueKind == JsonValueKind.Object
            ? new ConfigJson(v, $"{Source} ({key})")
            : throw Error($"\"{key}\" must be an object, found {Describe(v)}");
    }

    /// <summary>Token ids given as one integer or a list of integers (eos_token_id); empty when absent.</summary>
    public IReadOnlyList<int> GetIntOrIntList(string key)
    {
        if (!TryGet(key, out var v)) return [];
        if (v.ValueKind == JsonValueKind.Number) return [GetInt(key)!.Value];
        if (v.ValueKind != JsonValueKind.Array) throw Error($"\"{key}\" must be an integer or a list of integers, found {Describe(v)}");
        var ids = new List<int>();
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out int id))
                throw Error($"\"{key}\" must be an integer or a list of integers, found {Describe(item)} in the list");
            ids.Add(id);
        }
        return ids;
    }

    private static string Describe(JsonElement v)
    {
        string text = v.GetRawText();
        return text.Length <= 40 ? text : text[..40] + "...";
    }
}
