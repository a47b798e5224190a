using System.Text;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// Writes a GGUF v3 file (little-endian): metadata in the order added, the tensor table, then each
/// tensor's bytes at an offset aligned to <see cref="Alignment"/> (32, llama.cpp's default). Tensor
/// bytes come from callbacks run while the file is written, so a model is never held whole in memory.
/// The file appears under its name only once complete (written beside it, then renamed).
/// </summary>
public sealed class GgufFileWriter
{
    public const uint Magic = 0x46554747; // "GGUF"
    public const uint Version = 3;

    private readonly List<(string Key, object Value)> _metadata = [];
    private readonly List<Tensor> _tensors = [];

    private sealed record Tensor(string Name, GgmlType Type, long[] Dims, long ByteLength, Action<Stream> WriteData);

    public uint Alignment { get; init; } = 32;

    /// <summary>
    /// A metadata value, typed by its .NET type: string, uint, int, ulong, long, float, double, bool, or an array of
    /// string, int, uint or float, or a <see cref="GgufArray"/> as read from another file (GGUF's value types).
    /// </summary>
    public GgufFileWriter Add(string key, object value)
    {
        ValueType(value); // refuse an unsupported type now, not halfway through the file
        if (_metadata.Any(m => m.Key == key)) throw new ArgumentException($"metadata key {key} is added twice", nameof(key));
        _metadata.Add((key, value));
        return this;
    }

    /// <summary>
    /// A tensor of ggml <paramref name="dims"/> (innermost first) whose <paramref name="byteLength"/> bytes
    /// <paramref name="writeData"/> writes to the stream it is given.
    /// </summary>
    public GgufFileWriter AddTensor(string name, GgmlType type, long[] dims, long byteLength, Action<Stream> writeData)
    {
        if (_tensors.Any(t => t.Name == name)) throw new ArgumentException($"tensor {name} is added twice", nameof(name));
        long elements = dims.Aggregate(1L, (a, b) => a * b);
        if (GgmlTypes.RowBytes(type, elements) != byteLength || elements % (GgmlTypes.Layout(type)!.Value.Elements) != 0)
            throw new ArgumentException($"tensor {name}: {byteLength} bytes do not hold [{string.Join(", ", dims)}] {type}", nameof(byteLength));
        _tensors.Add(new Tensor(name, type, dims, byteLength, writeData));
        return this;
    }

    public IReadOnlyList<string> Keys => _metadata.Select(m => m.Key).ToList();

    /// <summary>Writes the file; <paramref name="path"/> is replaced only when everything was written.</summary>
    public void Write(string path)
    {
        string partial = path + ".partial";
        try
        {
            using (var stream = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
                WriteTo(stream);
            File.Move(partial, path, overwrite: true);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }

    public void WriteTo(Stream stream)
    {
        using var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        w.Write(Magic);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)ValueType(value));
            WriteValue(w, value);
        }
        long offset = 0;
        var offsets = new long[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            offsets[i] = offset;
            WriteString(w, t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (long d in t.Dims) w.Write((ulong)d);
            w.Write((uint)t.Type);
            w.Write((ulong)offset);
            offset = Align(offset + t.ByteLength);
        }
        w.Flush();
        Pad(stream, Align(stream.Position) - stream.Position);
        long dataStart = stream.Position;
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            Pad(stream, dataStart + offsets[i] - stream.Position);
            long before = stream.Position;
            t.WriteData(stream);
            if (stream.Position - before != t.ByteLength)
                throw new InvalidOperationException($"tensor {t.Name}: {stream.Position - before} bytes written, {t.ByteLength} announced");
        }
    }

    private long Align(long position) => (position + Alignment - 1) / Alignment * Alignment;

    private static void Pad(Stream stream, long bytes)
    {
        for (long i = 0; i < bytes; i++) stream.WriteByte(0);
    }

    private static GgufValueType ValueType(object value) => value switch
    {
        string => GgufValueType.String,
        uint => GgufValueType.UInt32,
        int => GgufValueType.Int32,
        ulong => GgufValueType.UInt64,
        long => GgufValueType.Int64,
        float => GgufValueType.Float32,
        double => GgufValueType.Float64,
        bool => GgufValueType.Bool,
        byte => GgufValueType.UInt8, sbyte => GgufValueType.Int8, ushort => GgufValueType.UInt16, short => GgufValueType.Int16,
        string[] or int[] or uint[] or float[] or GgufArray => GgufValueType.Array,
        _ => throw new ArgumentException($"GGUF metadata cannot hold a {value.GetType().Name}", nameof(value)),
    };

    private static void WriteValue(BinaryWriter w, object value)
    {
        switch (value)
        {
            case string s: WriteString(w, s); break;
            case uint u: w.Write(u); break;
            case int i: w.Write(i); break;
            case ulong u: w.Write(u); break;
            case long l: w.Write(l); break;
            case float f: w.Write(f); break;
            case double d: w.Write(d); break;
            case bool b: w.Write(b ? (byte)1 : (byte)0); break;
            case byte b: w.Write(b); break;
            case sbyte b: w.Write(b); break;
            case ushort u: w.Write(u); break;
            case short i: w.Write(i); break;
            case GgufArray a:
                w.Write((uint)a.ElementType);
                w.Write((ulong)a.Count);
                foreach (object item in a.Values) WriteValue(w, item);
                break;
            case string[] a: WriteArray(w, GgufValueType.String, a); break;
            case int[] a: WriteArray(w, GgufValueType.Int32, a); break;
            case uint[] a: WriteArray(w, GgufValueType.UInt32, a); break;
            case float[] a: WriteArray(w, GgufValueType.Float32, a); break;
        }
    }

    private static void WriteArray<T>(BinaryWriter w, GgufValueType type, T[] values)
    {
        w.Write((uint)type);
        w.Write((ulong)values.Length);
        foreach (var item in values) WriteValue(w, item!);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
