using System.Buffers.Binary;
using System.Text;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// Parses and validates the front of a GGUF file (versions 2 and 3, little-endian): magic, version,
/// metadata of every value type, tensor infos, alignment; then checks every tensor against the data
/// section: known type, rows a whole number of blocks, aligned offset inside the data, no overlaps,
/// no duplicate names. Every error is one line naming the file (and the key or tensor).
/// </summary>
internal static unsafe class GgufHeader
{
    public const uint Magic = 0x46554747; // "GGUF" little-endian
    public const uint DefaultAlignment = 32;
    public const string AlignmentKey = "general.alignment";
    /// <summary>ggml tensors have at most 4 dimensions.</summary>
    public const int MaxDims = 4;

    public sealed record Parsed(uint Version, GgufMetadata Metadata, IReadOnlyList<GgufTensorInfo> Tensors, long DataStart, uint Alignment);

    public static Parsed Parse(byte* data, long length, string file)
    {
        if (length == 0) throw new EngineException($"{file}: file is empty, not a GGUF file");
        var cursor = new Cursor(data, length, file);
        uint magic = cursor.UInt32("the magic number");
        if (magic != Magic)
            throw new EngineException($"{file}: not a GGUF file (it starts with bytes {Convert.ToHexString(new ReadOnlySpan<byte>(data, (int)Math.Min(4, length)))}, not 'GGUF')");
        uint version = cursor.UInt32("the version");
        if (version is not (2 or 3))
        {
            string why = BinaryPrimitives.ReverseEndianness(version) is 2 or 3 ? " (a big-endian file; only little-endian is supported)" : "";
            throw new EngineException($"{file}: GGUF version {version} is not supported{why}; supported: 2, 3");
        }
        long tensorCount = cursor.Count("the tensor count", minBytesEach: 24);
        long metadataCount = cursor.Count("the metadata count", minBytesEach: 12);

        var values = new List<KeyValuePair<string, object>>((int)Math.Min(metadataCount, 4096));
        var keys = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < metadataCount; i++)
        {
            string key = cursor.String($"metadata key {i}");
            if (!keys.Add(key)) throw new EngineException($"{file}: metadata key {key} appears more than once");
            var type = (GgufValueType)cursor.UInt32($"the type of metadata key {key}");
            values.Add(new(key, cursor.Value(type, key)));
        }
        var metadata = new GgufMetadata(file, values);
        uint alignment = ReadAlignment(metadata, file);

        var infos = new List<(string Name, long[] Dims, uint Type, ulong Offset)>((int)Math.Min(tensorCount, 65536));
        for (long i = 0; i < tensorCount; i++)
        {
            string name = cursor.String($"the name of tensor {i}");
            string what = $"tensor '{name}'";
            uint dimCount = cursor.UInt32($"the dimension count of {what}");
            if (dimCount is 0 or > MaxDims)
                throw new EngineException($"{file}: {what} has {dimCount} dimensions; ggml tensors have 1 to {MaxDims}");
            var dims = new long[dimCount];
            for (int d = 0; d < dimCount; d++)
            {
                ulong dim = cursor.UInt64($"dimension {d} of {what}");
                if (dim > int.MaxValue * 64UL) throw new EngineException($"{file}: {what} has dimension {d} of {dim}, too large");
                dims[d] = (long)dim;
            }
            uint type = cursor.UInt32($"the type of {what}");
            ulong offset = cursor.UInt64($"the offset of {what}");
            infos.Add((name, dims, type, offset));
        }

        long dataStart = AlignUp(cursor.Position, alignment);
        if (tensorCount > 0 && dataStart > length)
            throw new EngineException($"{file}: file is truncated: the data section would start at byte {dataStart}, but the file has {length} bytes");
        long dataLength = Math.Max(0, length - dataStart);
        var tensors = CheckTensors(infos, dataLength, alignment, file);
        return new Parsed(version, metadata, tensors, dataStart, alignment);
    }

    private static uint ReadAlignment(GgufMetadata metadata, string file)
    {
        if (!metadata.TryGetValue(AlignmentKey, out var value)) return DefaultAlignment;
        if (value is not uint alignment)
            throw new EngineException($"{file}: metadata key {AlignmentKey} is {GgufMetadata.Describe(value)}, expected a uint32");
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new EngineException($"{file}: metadata key {AlignmentKey} is {alignment}, not a power of two");
        return alignment;
    }

    private static List<GgufTensorInfo> CheckTensors(List<(string Name, long[] Dims, uint Type, ulong Offset)> infos, long dataLength, uint alignment, string file)
    {
        var tensors = new List<GgufTensorInfo>(infos.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, dims, typeId, offset) in infos)
        {
            string where = $"{file}: tensor '{name}'";
            if (!names.Add(name)) throw new EngineException($"{where} is declared more than once");
            var type = (GgmlType)typeId;
            if (GgmlTypes.Layout(type) is not var (blockElements, blockBytes))
                throw new EngineException($"{where} has unknown tensor type {typeId}");
            if (dims[0] % blockElements != 0)
                throw new EngineException(
                    $"{where} has rows of {dims[0]} elements, not a multiple of the {blockElements}-element blocks of {GgmlTypes.Name(type)}");
            long bytes;
            try
            {
                long elements = dims.Aggregate(1L, (a, b) => checked(a * b));
                bytes = checked(elements / blockElements * blockBytes);
            }
            catch (OverflowException)
            {
                throw new EngineException($"{where} has dims [{string.Join(", ", dims)}], too many elements");
            }
            if (offset % alignment != 0)
                throw new EngineException($"{where} starts at data offset {offset}, not a multiple of the alignment {alignment}");
            if (offset > (ulong)dataLength || bytes > dataLength - (long)offset)
                throw new EngineException(
                    $"{where} occupies data bytes [{offset}, {offset + (ulong)bytes}), past the end of the {dataLength}-byte data section (truncated file?)");
            tensors.Add(new GgufTensorInfo(name, dims, type, (long)offset, bytes));
        }
        CheckNoOverlap(tensors, file);
        return tensors;
    }

    private static void CheckNoOverlap(List<GgufTensorInfo> tensors, string file)
    {
        var sorted = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            var previous = sorted[i - 1];
            if (sorted[i].Offset < previous.Offset + previous.ByteLength)
                throw new EngineException(
                    $"{file}: tensor '{sorted[i].Name}' (data bytes [{sorted[i].Offset}, {sorted[i].Offset + sorted[i].ByteLength})) overlaps tensor '{previous.Name}' ([{previous.Offset}, {previous.Offset + previous.ByteLength}))");
        }
    }

    private static long AlignUp(long position, uint alignment) => (position + alignment - 1) / alignment * alignment;

    /// <summary>A bounds-checked little-endian reader over the mapped file.</summary>
    private ref struct Cursor(byte* data, long length, string file)
    {
        public long Position { get; private set; }

        private ReadOnlySpan<byte> Take(long count, string what)
        {
            if (count > length - Position)
                throw new EngineException($"{file}: file is truncated: {what} at byte {Position} needs {count} bytes, but the file ends at byte {length}");
            var span = new ReadOnlySpan<byte>(data + Position, (int)count);
            Position += count;
            return span;
        }

        public uint UInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));
        public ulong UInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

        /// <summary>A uint64 count of items of at least <paramref name="minBytesEach"/> bytes, checked against the bytes left.</summary>
        public long Count(string what, long minBytesEach)
        {
            ulong count = UInt64(what);
            if (count > (ulong)(length - Position) / (ulong)minBytesEach)
                throw new EngineException($"{file}: {what} {count} cannot fit in the {length - Position} bytes left (truncated or corrupt file)");
            return (long)count;
        }

        public string String(string what)
        {
            ulong size = UInt64($"the length of {what}");
            if (size > (ulong)(length - Position))
                throw new EngineException($"{file}: file is truncated: {what} at byte {Position} needs {size} bytes, but the file ends at byte {length}");
            if (size > int.MaxValue) throw new EngineException($"{file}: {what} is {size} bytes long, too long for a string");
            return Encoding.UTF8.GetString(Take((long)size, what));
        }

        public object Value(GgufValueType type, string key)
        {
            string what = $"the value of metadata key {key}";
            return type switch
            {
                GgufValueType.UInt8 => Take(1, what)[0],
                GgufValueType.Int8 => (sbyte)Take(1, what)[0],
                GgufValueType.UInt16 => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what)),
                GgufValueType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(Take(2, what)),
                GgufValueType.UInt32 => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what)),
                GgufValueType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(Take(4, what)),
                GgufValueType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(Take(4, what)),
                GgufValueType.Bool => Bool(Take(1, what)[0], key),
                GgufValueType.String => String(what),
                GgufValueType.UInt64 => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what)),
                GgufValueType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(Take(8, what)),
                GgufValueType.Float64 => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what)),
                GgufValueType.Array => Array(key),
                _ => throw new EngineException($"{file}: metadata key {key} has unknown value type {(uint)type}"),
            };
        }

        private bool Bool(byte value, string key) => value switch
        {
            0 => false,
            1 => true,
            _ => throw new EngineException($"{file}: metadata key {key} is a bool of value {value}, not 0 or 1"),
        };

        private GgufArray Array(string key)
        {
            var elementType = (GgufValueType)UInt32($"the element type of metadata array {key}");
            long minBytes = elementType switch
            {
                GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
                GgufValueType.UInt16 or GgufValueType.Int16 => 2,
                GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
                GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
                GgufValueType.Array => 12,
                _ => throw new EngineException($"{file}: metadata array {key} has unknown element type {(uint)elementType}"),
            };
            int count = (int)Math.Min(Count($"the length of metadata array {key}", minBytes), int.MaxValue);
            return new GgufArray(elementType, elementType switch
            {
                GgufValueType.UInt8 => Fill<byte>(count, elementType, key),
                GgufValueType.Int8 => Fill<sbyte>(count, elementType, key),
                GgufValueType.UInt16 => Fill<ushort>(count, elementType, key),
                GgufValueType.Int16 => Fill<short>(count, elementType, key),
                GgufValueType.UInt32 => Fill<uint>(count, elementType, key),
                GgufValueType.Int32 => Fill<int>(count, elementType, key),
                GgufValueType.Float32 => Fill<float>(count, elementType, key),
                GgufValueType.Bool => Fill<bool>(count, elementType, key),
                GgufValueType.String => Fill<string>(count, elementType, key),
                GgufValueType.UInt64 => Fill<ulong>(count, elementType, key),
                GgufValueType.Int64 => Fill<long>(count, elementType, key),
                GgufValueType.Float64 => Fill<double>(count, elementType, key),
                _ => Fill<GgufArray>(count, elementType, key),
            });
        }

        private T[] Fill<T>(int count, GgufValueType elementType, string key)
        {
            var values = new T[count];
            for (int i = 0; i < count; i++) values[i] = (T)Value(elementType, key);
            return values;
        }
    }
}
