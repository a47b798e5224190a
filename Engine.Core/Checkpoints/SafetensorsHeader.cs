using System.Text.Json;

namespace Engine.Core.Checkpoints;

/// <summary>One tensor as a safetensors header declares it; offsets are relative to the data section.</summary>
internal sealed record SafetensorsEntry(string Name, DType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// Parses and validates a safetensors JSON header against the size of the data section that follows
/// it: well-formed JSON, supported dtypes, offsets inside the data, byte lengths matching the shapes,
/// no duplicate names, no overlapping tensors.
/// </summary>
internal static class SafetensorsHeader
{
    /// <summary>The reference implementation's limit; a larger header means a corrupt or hostile file.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private const string MetadataKey = "__metadata__";

    public static IReadOnlyList<SafetensorsEntry> Parse(ReadOnlySpan<byte> header, long dataLength, string file)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(header);
            document = JsonDocument.ParseValue(ref reader);
            if (reader.BytesConsumed < header.Length && !IsWhitespace(header[(int)reader.BytesConsumed..]))
                throw new EngineException($"{file}: safetensors header is not valid JSON: text after the closing brace");
        }
        catch (JsonException e)
        {
            throw new EngineException($"{file}: safetensors header is not valid JSON: {OneLine(e.Message)}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new EngineException($"{file}: safetensors header is not a JSON object");
            var entries = new List<SafetensorsEntry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw new EngineException($"{file}: tensor '{property.Name}' is declared more than once in the safetensors header");
                if (property.Name == MetadataKey) continue;
                entries.Add(ParseEntry(property, dataLength, file));
            }
            CheckNoOverlap(entries, file);
            return entries;
        }
    }

    private static SafetensorsEntry ParseEntry(JsonProperty property, long dataLength, string file)
    {
        string name = property.Name;
        string where = $"{file}: tensor '{name}'";
        var value = property.Value;
        if (value.ValueKind != JsonValueKind.Object)
            throw new EngineException($"{where}: header entry is not a JSON object");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new EngineException($"{where}: header entry has no \"dtype\" string");
        string dtypeName = dtypeElement.GetString()!;
        DType dtype = dtypeName switch
        {
            "F32" => DType.F32,
            "F16" => DType.F16,
            "BF16" => DType.BF16,
            _ => throw new EngineException($"unsupported dtype {dtypeName} in tensor '{name}' ({file}); supported: F32, F16, BF16"),
        };
        long[] shape = ReadIntegers(value, "shape", where);
        long[] offsets = ReadIntegers(value, "data_offsets", where);
        if (offsets.Length != 2)
            throw new EngineException($"{where}: \"data_offsets\" must hold two numbers, found {offsets.Length}");
        long begin = offsets[0], end = offsets[1];
        if (begin > end)
            throw new EngineException($"{where}: data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw new EngineException($"{where}: data_offsets [{begin}, {end}] lie outside the data section of {dataLength} bytes (truncated file?)");
        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => a * b) * DTypes.SizeOf(dtype));
        }
        catch (OverflowException)
        {
            throw new EngineException($"{where}: shape [{string.Join(", ", shape)}] is too large");
        }
        if (end - begin != expected)
            throw new EngineException(
                $"{where}: holds {end - begin} bytes but shape [{string.Join(", ", shape)}] x {dtypeName} needs {expected}");
        return new SafetensorsEntry(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(JsonElement entry, string key, string where)
    {
        if (!entry.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
            throw new EngineException($"{where}: header entry has no \"{key}\" array");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw new EngineException($"{where}: \"{key}\" holds {item.GetRawText()}, not a non-negative integer");
            values[i++] = v;
        }
        return values;
    }

    private static void CheckNoOverlap(List<SafetensorsEntry> entries, string file)
    {
        // Empty tensors occupy no bytes and cannot overlap anything.
        var sorted = entries.Where(e => e.ByteLength > 0).OrderBy(e => e.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            var previous = sorted[i - 1];
            var current = sorted[i];
            if (current.Begin < previous.End)
                throw new EngineException(
                    $"{file}: tensor '{current.Name}' bytes [{current.Begin}, {current.End}] overlap tensor '{previous.Name}' [{previous.Begin}, {previous.End}]");
        }
    }

    private static bool IsWhitespace(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n' or 0)) return false;
        return true;
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
