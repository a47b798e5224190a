using System.Text;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Tests.Support;

/// <summary>
/// Writes small GGUF files for tests, well-formed by default; each part can be bent to make one
/// malformation (an explicit offset, an unknown type id, a duplicate name, a wrong version).
/// </summary>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValueType Type, object Value)> _metadata = [];
    private readonly List<(string Name, long[] Dims, uint Type, byte[] Data, ulong? Offset)> _tensors = [];

    public uint Magic { get; init; } = 0x46554747;
    public uint Version { get; init; } = 3;
    public uint Alignment { get; init; } = 32;

    public GgufWriter Add(string key, GgufValueType type, object value)
    {
        _metadata.Add((key, type, value));
        return this;
    }

    public GgufWriter AddString(string key, string value) => Add(key, GgufValueType.String, value);
    public GgufWriter AddUInt32(string key, uint value) => Add(key, GgufValueType.UInt32, value);

    /// <summary>A tensor of ggml <paramref name="dims"/> (innermost first) with raw data; the offset follows the previous tensor unless given.</summary>
    public GgufWriter AddTensor(string name, long[] dims, uint type, byte[] data, ulong? offset = null)
    {
        _tensors.Add((name, dims, type, data, offset));
        return this;
    }

    /// <summary>An F32 tensor of the given values.</summary>
    public GgufWriter AddF32(string name, long[] dims, float[] values, ulong? offset = null)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        return AddTensor(name, dims, (uint)GgmlType.F32, bytes, offset);
    }

    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        using var w = new BinaryWriter(stream);
        w.Write(Magic);
        w.Write(Version);
        w.Write((ulong)_tensors.Count);
        w.Write((ulong)_metadata.Count);
        foreach (var (key, type, value) in _metadata)
        {
            WriteString(w, key);
            w.Write((uint)type);
            WriteValue(w, type, value);
        }
        var offsets = new List<ulong>();
        ulong next = 0;
        foreach (var t in _tensors)
        {
            ulong offset = t.Offset ?? next;
            offsets.Add(offset);
            next = Align(offset + (ulong)t.Data.Length);
        }
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            WriteString(w, t.Name);
            w.Write((uint)t.Dims.Length);
            foreach (long d in t.Dims) w.Write((ulong)d);
            w.Write(t.Type);
            w.Write(offsets[i]);
        }
        w.Flush();
        if (_tensors.Count == 0) return stream.ToArray();
        long dataStart = (long)Align((ulong)stream.Length);
        stream.SetLength(dataStart);
        stream.Position = dataStart;
        for (int i = 0; i < _tensors.Count; i++)
        {
            long at = dataStart + (long)offsets[i];
            if (stream.Length < at) stream.SetLength(at);
            stream.Position = at;
            stream.Write(_tensors[i].Data);
        }
        return stream.ToArray();
    }

    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    private ulong Align(ulong position) => (position + Alignment - 1) / Alignment * Alignment;

    private static void WriteString(BinaryWriter w, string s)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(s);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void WriteValue(BinaryWriter w, GgufValueType type, object value)
    {
        switch (type)
        {
            case GgufValueType.UInt8: w.Write(Convert.ToByte(value)); break;
            case GgufValueType.Int8: w.Write(Convert.ToSByte(value)); break;
            case GgufValueType.UInt16: w.Write(Convert.ToUInt16(value)); break;
            case GgufValueType.Int16: w.Write(Convert.ToInt16(value)); break;
            case GgufValueType.UInt32: w.Write(Convert.ToUInt32(value)); break;
            case GgufValueType.Int32: w.Write(Convert.ToInt32(value)); break;
            case GgufValueType.Float32: w.Write(Convert.ToSingle(value)); break;
            case GgufValueType.Bool: w.Write((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(w, (string)value); break;
            case GgufValueType.UInt64: w.Write(Convert.ToUInt64(value)); break;
            case GgufValueType.Int64: w.Write(Convert.ToInt64(value)); break;
            case GgufValueType.Float64: w.Write(Convert.ToDouble(value)); break;
            case GgufValueType.Array:
                var array = (GgufArray)value;
                w.Write((uint)array.ElementType);
                w.Write((ulong)array.Count);
                foreach (object item in array.Values) WriteValue(w, array.ElementType, item);
                break;
            default: w.Write(Convert.ToUInt32(value)); break; // an unknown type id: some payload
        }
    }
}
