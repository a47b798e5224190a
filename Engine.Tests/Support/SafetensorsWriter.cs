using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Engine.Core;

namespace Engine.Tests.Support;

/// <summary>
/// Writes safetensors files for tests: valid ones from named float arrays (stored as F32, F16 or BF16,
/// rounded to nearest even), sharded ones with their <c>model.safetensors.index.json</c>, and raw
/// files with any header bytes for malformed-checkpoint cases.
/// </summary>
/// <example>
/// <code>
/// var w = new SafetensorsWriter();
/// w.Add("model.norm.weight", [64], values, DType.BF16);
/// w.Save(Path.Combine(folder, "model.safetensors"));
/// </code>
/// </example>
public sealed class SafetensorsWriter
{
    private readonly List<(string Name, DType DType, long[] Shape, byte[] Bytes)> _tensors = [];
    // Dtype names written verbatim for AddRaw tensors (may be ones the engine does not support).
    private readonly Dictionary<string, string> _rawDtypeNames = [];

    /// <summary>Optional <c>__metadata__</c> entries (string to string, as the format requires).</summary>
    public Dictionary<string, string> Metadata { get; } = new() { ["format"] = "pt" };

    public IReadOnlyList<string> Names => _tensors.Select(t => t.Name).ToList();

    /// <summary>Adds a tensor whose values are converted to <paramref name="dtype"/>; shape product must equal the value count.</summary>
    public SafetensorsWriter Add(string name, long[] shape, float[] values, DType dtype = DType.F32)
    {
        long count = shape.Aggregate(1L, (a, b) => a * b);
        if (count != values.Length)
            throw new ArgumentException($"tensor {name}: shape holds {count} elements but {values.Length} values were given");
        _tensors.Add((name, dtype, shape, Encode(values, dtype)));
        return this;
    }

    /// <summary>Adds a tensor from raw bytes, with no check that they fit the shape (for malformed cases).</summary>
    public SafetensorsWriter AddRaw(string name, string dtypeName, long[] shape, byte[] bytes)
    {
        _tensors.Add((name, DTypes.TryParse(dtypeName, out var t) ? t : DType.I32, shape, bytes));
        _rawDtypeNames[name] = dtypeName;
        return this;
    }

    /// <summary>Writes all tensors into one file, back to back in the order added.</summary>
    public void Save(string path) => SaveSubset(path, _tensors);

    /// <summary>
    /// Writes the tensors round-robin into <paramref name="shardCount"/> files named
    /// <c>model-0000i-of-0000n.safetensors</c> in <paramref name="folder"/>, plus the index. Returns the shard paths.
    /// </summary>
    public IReadOnlyList<string> SaveSharded(string folder, int shardCount)
    {
        Directory.CreateDirectory(folder);
        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var paths = new List<string>();
        for (int s = 0; s < shardCount; s++)
        {
            string file = $"model-{s + 1:D5}-of-{shardCount:D5}.safetensors";
            var subset = _tensors.Where((_, i) => i % shardCount == s).ToList();
            foreach (var t in subset) weightMap[t.Name] = file;
            string path = Path.Combine(folder, file);
            SaveSubset(path, subset);
            paths.Add(path);
        }
        WriteIndex(folder, weightMap);
        return paths;
    }

    /// <summary>Writes <c>model.safetensors.index.json</c> with the given tensor-to-file map.</summary>
    public static void WriteIndex(string folder, IEnumerable<KeyValuePair<string, string>> weightMap)
    {
        var index = new Dictionary<string, object>
        {
            ["metadata"] = new Dictionary<string, object> { ["total_size"] = 0 },
            ["weight_map"] = weightMap.ToDictionary(kv => kv.Key, kv => kv.Value),
        };
        File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), JsonSerializer.Serialize(index));
    }

    /// <summary>Writes a file made of the 8-byte little-endian header length, the header text and the data.</summary>
    public static void WriteRaw(string path, string header, byte[] data) =>
        WriteRaw(path, (ulong)Encoding.UTF8.GetByteCount(header), Encoding.UTF8.GetBytes(header), data);

    /// <summary>Writes a file whose declared header length may differ from the header bytes that follow.</summary>
    public static void WriteRaw(string path, ulong declaredHeaderLength, byte[] header, byte[] data)
    {
        using var stream = File.Create(path);
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, declaredHeaderLength);
        stream.Write(prefix);
        stream.Write(header);
        stream.Write(data);
    }

    /// <summary>The little-endian bytes of <paramref name="values"/> in <paramref name="dtype"/> (round to nearest even).</summary>
    public static byte[] Encode(float[] values, DType dtype)
    {
        var bytes = new byte[values.Length * DTypes.SizeOf(dtype)];
        for (int i = 0; i < values.Length; i++)
        {
            switch (dtype)
            {
                case DType.F32: BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]); break;
                case DType.F16: BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]); break;
                case DType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), BFloat16.FromFloat(values[i])); break;
                default: throw new ArgumentException($"SafetensorsWriter cannot encode {dtype}");
            }
        }
        return bytes;
    }

    /// <summary>Deterministic random values in [-1, 1) with no zeros, for tests.</summary>
    public static float[] RandomValues(int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            float v;
            do v = (float)(random.NextDouble() * 2 - 1); while (v == 0f);
            values[i] = v;
        }
        return values;
    }

    private void SaveSubset(string path, IReadOnlyList<(string Name, DType DType, long[] Shape, byte[] Bytes)> tensors)
    {
        var header = new StringBuilder("{");
        if (Metadata.Count > 0)
            header.Append("\"__metadata__\":").Append(JsonSerializer.Serialize(Metadata)).Append(',');
        long offset = 0;
        foreach (var t in tensors)
        {
            string dtypeName = _rawDtypeNames.TryGetValue(t.Name, out var raw) ? raw : DTypes.SafetensorsName(t.DType);
            header.Append(JsonSerializer.Serialize(t.Name)).Append(":{\"dtype\":\"").Append(dtypeName)
                .Append("\",\"shape\":[").Append(string.Join(',', t.Shape)).Append("],\"data_offsets\":[")
                .Append(offset).Append(',').Append(offset + t.Bytes.Length).Append("]},");
            offset += t.Bytes.Length;
        }
        if (header[^1] == ',') header.Length--;
        header.Append('}');
        // The format pads the header with spaces so the data section starts 8-byte aligned.
        while ((Encoding.UTF8.GetByteCount(header.ToString()) + 8) % 8 != 0) header.Append(' ');
        WriteRaw(path, header.ToString(), tensors.SelectMany(t => t.Bytes).ToArray());
    }
}
