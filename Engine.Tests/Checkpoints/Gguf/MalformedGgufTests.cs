using Engine.Core;
using Engine.Core.Checkpoints.Gguf;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>Every way a GGUF file can be malformed gives one line naming the file (and the tensor or key).</summary>
public class MalformedGgufTests
{
    private TempFolder _temp = null!;
    private string _path = null!;

    [SetUp]
    public void SetUp()
    {
        _temp = new TempFolder();
        _path = _temp.File("model.gguf");
    }

    [TearDown] public void TearDown() => _temp.Dispose();

    private string OpenError(GgufWriter writer) => OpenError(writer.ToBytes());

    private string OpenError(byte[] bytes)
    {
        File.WriteAllBytes(_path, bytes);
        return OpenError();
    }

    private string OpenError()
    {
        var e = Assert.Throws<EngineException>(() => GgufFile.Open(_path).Dispose());
        Assert.That(e!.Message, Does.Not.Contain("\n"), "one line");
        Assert.That(e.Message, Does.StartWith(_path + ": "), "names the file");
        return e.Message;
    }

    private static byte[] Edited(GgufWriter writer, Action<byte[]> edit)
    {
        byte[] bytes = writer.ToBytes();
        edit(bytes);
        return bytes;
    }

    private static GgufWriter TwoTensors() => new GgufWriter()
        .AddString("general.architecture", "llama")
        .AddF32("a", [8], [1, 2, 3, 4, 5, 6, 7, 8])
        .AddF32("b", [8], [8, 7, 6, 5, 4, 3, 2, 1]);

    [Test]
    public void WellFormedFileOpens()
    {
        TwoTensors().Save(_path);
        using var file = GgufFile.Open(_path);
        Assert.That(file.Tensors.Select(t => t.Name), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(file.TryGetTensor("b", out var b));
        Assert.That(file.Bytes(b).ToArray(), Has.Length.EqualTo(32));
        Assert.That(BitConverter.ToSingle(file.Bytes(b)[..4]), Is.EqualTo(8f));
    }

    [Test]
    public void EmptyFile()
    {
        File.WriteAllBytes(_path, []);
        Assert.That(OpenError(), Does.EndWith("file is empty, not a GGUF file"));
    }

    [Test]
    public void WrongMagic() =>
        Assert.That(OpenError(new GgufWriter { Magic = 0x12345678 }), Does.Contain("not a GGUF file (it starts with bytes 78563412"));

    [Test]
    public void VersionOne() =>
        Assert.That(OpenError(new GgufWriter { Version = 1 }), Does.EndWith("GGUF version 1 is not supported; supported: 2, 3"));

    [Test]
    public void BigEndianFile() =>
        Assert.That(OpenError(new GgufWriter { Version = 0x03000000 }), Does.Contain("(a big-endian file; only little-endian is supported)"));

    [Test]
    public void VersionTwoOpens()
    {
        new GgufWriter { Version = 2 }.AddF32("a", [2], [1, 2]).Save(_path);
        using var file = GgufFile.Open(_path);
        Assert.That(file.Version, Is.EqualTo(2));
    }

    [Test]
    public void CountsLargerThanTheFile() =>
        Assert.That(OpenError(TwoTensors().ToBytes()[..40]), Does.EndWith("the tensor count 2 cannot fit in the 24 bytes left (truncated or corrupt file)"));

    [Test]
    public void TruncatedHeader()
    {
        byte[] whole = TwoTensors().ToBytes();
        File.WriteAllBytes(_path, whole[..64]);
        Assert.That(OpenError(), Does.EndWith("file is truncated: the value of metadata key general.architecture at byte 64 needs 5 bytes, but the file ends at byte 64"));
    }

    [Test]
    public void TruncatedTensorTable()
    {
        byte[] whole = TwoTensors().ToBytes();
        File.WriteAllBytes(_path, whole[..115]);
        Assert.That(OpenError(), Does.EndWith("file is truncated: dimension 0 of tensor 'b' at byte 115 needs 8 bytes, but the file ends at byte 115"));
    }

    [Test]
    public void TruncatedData()
    {
        byte[] whole = TwoTensors().ToBytes();
        File.WriteAllBytes(_path, whole[..^4]);
        Assert.That(OpenError(), Does.Contain("tensor 'b' occupies data bytes [32, 64), past the end of the 60-byte data section (truncated file?)"));
    }

    [Test]
    public void OffsetOutsideTheData() =>
        Assert.That(OpenError(TwoTensors().AddTensor("far", [8], (uint)GgmlType.F32, [], offset: 1 << 20)),
            Does.Contain("tensor 'far' occupies data bytes [1048576, 1048608), past the end"));

    [Test]
    public void MisalignedOffset() =>
        Assert.That(OpenError(new GgufWriter().AddF32("a", [8], new float[8], offset: 4)),
            Does.EndWith("tensor 'a' starts at data offset 4, not a multiple of the alignment 32"));

    [Test]
    public void OverlappingTensors() =>
        Assert.That(OpenError(new GgufWriter().AddF32("a", [16], new float[16]).AddF32("b", [8], new float[8], offset: 32)),
            Does.EndWith("tensor 'b' (data bytes [32, 64)) overlaps tensor 'a' ([0, 64))"));

    [Test]
    public void UnknownTensorType() =>
        Assert.That(OpenError(new GgufWriter().AddTensor("w", [32], 99, new byte[64])), Does.EndWith("tensor 'w' has unknown tensor type 99"));

    [Test]
    public void DuplicateTensorNames() =>
        Assert.That(OpenError(new GgufWriter().AddF32("w", [2], [1, 2]).AddF32("w", [2], [3, 4])), Does.EndWith("tensor 'w' is declared more than once"));

    [Test]
    public void RowsNotAWholeNumberOfBlocks() =>
        Assert.That(OpenError(new GgufWriter().AddTensor("w", [48, 2], (uint)GgmlType.Q8_0, new byte[34 * 3])),
            Does.EndWith("tensor 'w' has rows of 48 elements, not a multiple of the 32-element blocks of Q8_0"));

    [Test]
    public void TooManyDimensions() =>
        Assert.That(OpenError(new GgufWriter().AddF32("w", [1, 1, 1, 1, 2], [1, 2])), Does.EndWith("tensor 'w' has 5 dimensions; ggml tensors have 1 to 4"));

    [Test]
    public void DuplicateMetadataKey() =>
        Assert.That(OpenError(new GgufWriter().AddString("k", "a").AddString("k", "b")), Does.EndWith("metadata key k appears more than once"));

    [Test]
    public void UnknownMetadataValueType() =>
        Assert.That(OpenError(new GgufWriter().Add("k", (GgufValueType)77, 0u)), Does.EndWith("metadata key k has unknown value type 77"));

    [Test]
    public void BoolThatIsNeitherZeroNorOne() =>
        Assert.That(OpenError(Edited(new GgufWriter().Add("flag", GgufValueType.Bool, true), b => b[^1] = 7)),
            Does.EndWith("metadata key flag is a bool of value 7, not 0 or 1"));

    [Test]
    public void ArrayLongerThanTheFile() =>
        Assert.That(OpenError(Edited(new GgufWriter().Add("k", GgufValueType.Array, new GgufArray(GgufValueType.UInt32, new uint[] { 1, 2 })), b => b[^10] = 0xFF)),
            Does.Contain("the length of metadata array k").And.Contain("cannot fit in the"));

    [Test]
    public void AlignmentNotAPowerOfTwo() =>
        Assert.That(OpenError(new GgufWriter().AddUInt32("general.alignment", 24)), Does.EndWith("metadata key general.alignment is 24, not a power of two"));

    [Test]
    public void AlignmentOfTheWrongType() =>
        Assert.That(OpenError(new GgufWriter().AddString("general.alignment", "32")), Does.EndWith("metadata key general.alignment is a string, expected a uint32"));

    [Test]
    public void AlignmentIsHonoured()
    {
        new GgufWriter { Alignment = 64 }.AddUInt32("general.alignment", 64).AddF32("a", [2], [1, 2]).AddF32("b", [2], [3, 4]).Save(_path);
        using var file = GgufFile.Open(_path);
        Assert.That(file.Alignment, Is.EqualTo(64));
        Assert.That(file.TryGetTensor("b", out var b));
        Assert.That(b.Offset, Is.EqualTo(64));
        Assert.That(BitConverter.ToSingle(file.Bytes(b)[..4]), Is.EqualTo(3f));
    }

    [Test]
    public void EveryMetadataValueTypeRoundTrips()
    {
        new GgufWriter()
            .Add("u8", GgufValueType.UInt8, (byte)200).Add("i8", GgufValueType.Int8, (sbyte)-5)
            .Add("u16", GgufValueType.UInt16, (ushort)60000).Add("i16", GgufValueType.Int16, (short)-30000)
            .Add("u32", GgufValueType.UInt32, 4_000_000_000u).Add("i32", GgufValueType.Int32, -7)
            .Add("f32", GgufValueType.Float32, 0.5f).Add("b", GgufValueType.Bool, true).Add("s", GgufValueType.String, "héllo")
            .Add("u64", GgufValueType.UInt64, 1UL << 40).Add("i64", GgufValueType.Int64, -(1L << 40)).Add("f64", GgufValueType.Float64, 0.25)
            .Add("strings", GgufValueType.Array, new GgufArray(GgufValueType.String, new[] { "a", "bc" }))
            .Add("nested", GgufValueType.Array, new GgufArray(GgufValueType.Array, new[] { new GgufArray(GgufValueType.Int32, new[] { 1, 2 }) }))
            .Save(_path);
        using var file = GgufFile.Open(_path);
        var m = file.Metadata;
        Assert.That(m.Keys, Has.Count.EqualTo(14));
        Assert.That(m.GetInteger("u8"), Is.EqualTo(200));
        Assert.That(m.GetInteger("i8"), Is.EqualTo(-5));
        Assert.That(m.GetInteger("u16"), Is.EqualTo(60000));
        Assert.That(m.GetInteger("i16"), Is.EqualTo(-30000));
        Assert.That(m.GetInteger("u32"), Is.EqualTo(4_000_000_000L));
        Assert.That(m.GetInteger("i32"), Is.EqualTo(-7));
        Assert.That(m.GetFloat("f32"), Is.EqualTo(0.5));
        Assert.That(m.GetBool("b"), Is.True);
        Assert.That(m.GetString("s"), Is.EqualTo("héllo"));
        Assert.That(m.GetInteger("u64"), Is.EqualTo(1L << 40));
        Assert.That(m.GetInteger("i64"), Is.EqualTo(-(1L << 40)));
        Assert.That(m.GetFloat("f64"), Is.EqualTo(0.25));
        Assert.That(m.GetArray<string>("strings", "string"), Is.EqualTo(new[] { "a", "bc" }));
        Assert.That(((GgufArray)m.GetArray("nested")!.Values.GetValue(0)!).Values, Is.EqualTo(new[] { 1, 2 }));
        var e = Assert.Throws<EngineException>(() => m.GetString("u32"));
        Assert.That(e!.Message, Is.EqualTo($"{_path}: metadata key u32 is a uint32, expected a string"));
    }
}
