namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// A GGUF file's key/value metadata in file order. Scalars are boxed .NET values (byte, sbyte, ushort,
/// short, uint, int, float, bool, string, ulong, long, double), arrays are <see cref="GgufArray"/>s.
/// Typed getters convert between integer widths and between float widths, and name the file and key
/// when a value has the wrong type.
/// </summary>
public sealed class GgufMetadata
{
    private readonly Dictionary<string, object> _values;

    internal GgufMetadata(string file, List<KeyValuePair<string, object>> values)
    {
        File = file;
        Keys = values.Select(v => v.Key).ToList();
        _values = new Dictionary<string, object>(values, StringComparer.Ordinal);
    }

    /// <summary>The file the metadata came from (for error messages).</summary>
    public string File { get; }

    /// <summary>The keys in file order.</summary>
    public IReadOnlyList<string> Keys { get; }

    public bool Contains(string key) => _values.ContainsKey(key);

    public bool TryGetValue(string key, out object value) => _values.TryGetValue(key, out value!);

    public object this[string key] => _values.TryGetValue(key, out var value) ? value : throw Missing(key);

    public string? GetString(string key) => Get(key, "a string", v => v as string);

    /// <summary>An integer of any width and sign, as a long (a uint64 over long's range is an error).</summary>
    public long? GetInteger(string key) => Get(key, "an integer", v => v switch
    {
        byte b => b, sbyte b => b, ushort s => s, short s => s, uint u => u, int i => i, long l => l,
        ulong u when u <= long.MaxValue => (long)u,
        _ => (long?)null,
    });

    /// <summary>A float32 or float64 as a double.</summary>
    public double? GetFloat(string key) => Get(key, "a float", v => v switch { float f => f, double d => d, _ => (double?)null });

    public bool? GetBool(string key) => Get(key, "a bool", v => v is bool b ? b : (bool?)null);

    public GgufArray? GetArray(string key) => Get(key, "an array", v => v as GgufArray);

    /// <summary>An array whose elements are <typeparamref name="T"/> (e.g. string[] for tokenizer.ggml.tokens).</summary>
    public T[]? GetArray<T>(string key, string typeName) => Get(key, $"an array of {typeName}", v => v is GgufArray { Values: T[] values } ? values : null);

    public long RequireInteger(string key) => GetInteger(key) ?? throw Missing(key);

    public double RequireFloat(string key) => GetFloat(key) ?? throw Missing(key);

    public string RequireString(string key) => GetString(key) ?? throw Missing(key);

    private EngineException Missing(string key) => new($"{File}: metadata key {key} is missing");

    private T? Get<T>(string key, string expected, Func<object, T?> convert)
    {
        if (!_values.TryGetValue(key, out var value)) return default;
        return convert(value) ?? throw new EngineException($"{File}: metadata key {key} is {Describe(value)}, expected {expected}");
    }

    /// <summary>A short description of a value's type for messages ("a uint32", "an array of 3 string").</summary>
    public static string Describe(object value) => value switch
    {
        GgufArray a => $"an array of {a.Count} {a.ElementType.ToString().ToLowerInvariant()}",
        string => "a string",
        bool => "a bool",
        byte => "a uint8", sbyte => "an int8", ushort => "a uint16", short => "an int16", uint => "a uint32", int => "an int32",
        ulong => "a uint64", long => "an int64", float => "a float32", double => "a float64",
        _ => value.GetType().Name,
    };
}
