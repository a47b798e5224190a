using System.Buffers.Binary;

namespace Engine.Core.Text;

/// <summary>
/// A minimal reader of the protobuf wire format, enough to walk sentencepiece's ModelProto: tags,
/// varints, 32-bit fixed values and length-delimited fields (strings and nested messages).
/// </summary>
internal ref struct ProtobufReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public ProtobufReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public bool AtEnd => _position >= _data.Length;

    /// <summary>The next field's number and wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).</summary>
    public (int Field, int WireType) ReadTag()
    {
        ulong tag = ReadVarint();
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = Next();
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("protobuf varint longer than 10 bytes");
    }

    public float ReadFloat()
    {
        var bytes = Take(4);
        return BinaryPrimitives.ReadSingleLittleEndian(bytes);
    }

    public ReadOnlySpan<byte> ReadLengthDelimited() => Take(checked((int)ReadVarint()));

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0: ReadVarint(); break;
            case 1: Take(8); break;
            case 2: ReadLengthDelimited(); break;
            case 5: Take(4); break;
            default: throw new InvalidDataException($"protobuf wire type {wireType} is not supported");
        }
    }

    private byte Next()
    {
        if (_position >= _data.Length) throw new InvalidDataException("protobuf message ends early");
        return _data[_position++];
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _position + count > _data.Length) throw new InvalidDataException("protobuf field runs past the end");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }
}
