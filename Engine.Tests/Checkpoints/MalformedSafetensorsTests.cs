using System.Text;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints;

/// <summary>Every way a safetensors file can be malformed gives one line naming the file (and the tensor).</summary>
public class MalformedSafetensorsTests
{
    private TempFolder _temp = null!;
    private string _path = null!;

    [SetUp]
    public void SetUp()
    {
        _temp = new TempFolder();
        _path = _temp.File("model.safetensors");
    }

    [TearDown] public void TearDown() => _temp.Dispose();

    private string OpenError()
    {
        var e = Assert.Throws<EngineException>(() => SafetensorsFile.Open(_path).Dispose());
        Assert.That(e!.Message, Does.Not.Contain("\n"), "one line");
        Assert.That(e.Message, Does.Contain(_path).Or.Contain(Path.GetFileName(_path)), "names the file");
        return e.Message;
    }

    private static byte[] Zeros(int n) => new byte[n];

    [Test]
    public void EmptyFile()
    {
        File.WriteAllBytes(_path, []);
        Assert.That(OpenError(), Does.Contain("file is empty"));
    }

    [Test]
    public void ShorterThanTheHeaderLength()
    {
        File.WriteAllBytes(_path, [1, 2, 3]);
        Assert.That(OpenError(), Does.Contain("truncated").And.Contain("3 bytes"));
    }

    [Test]
    public void HeaderLengthBeyondTheFile()
    {
        SafetensorsWriter.WriteRaw(_path, 1000, Encoding.UTF8.GetBytes("{}"), []);
        Assert.That(OpenError(), Does.Contain("header length 1000 runs past the end of the 10-byte file"));
    }

    [Test]
    public void TruncatedData()
    {
        new SafetensorsWriter().Add("a", [4], [1f, 2f, 3f, 4f]).Add("b", [4], [5f, 6f, 7f, 8f]).Save(_path);
        byte[] whole = File.ReadAllBytes(_path);
        File.WriteAllBytes(_path, whole[..^6]);
        Assert.That(OpenError(), Does.Contain("tensor 'b'").And.Contain("data_offsets [16, 32] lie outside the data section of 26 bytes"));
    }

    [TestCase("{\"a\": {\"dtype\": \"F32\",")]
    [TestCase("not json")]
    [TestCase("{\"a\": 1} trailing")]
    public void BadJson(string header)
    {
        SafetensorsWriter.WriteRaw(_path, header, Zeros(8));
        Assert.That(OpenError(), Does.Contain("safetensors header is not valid JSON"));
    }

    [Test]
    public void HeaderIsNotUtf8()
    {
        SafetensorsWriter.WriteRaw(_path, 3, [(byte)'{', 0xFF, (byte)'}'], Zeros(8));
        Assert.That(OpenError(), Does.Contain("safetensors header is not valid JSON"));
    }

    [Test]
    public void HeaderLengthOverTheLimit()
    {
        // A sparse file large enough to hold the declared header, so only the limit can reject it.
        long declared = SafetensorsHeader.MaxHeaderBytes + 1;
        SafetensorsWriter.WriteRaw(_path, (ulong)declared, Encoding.UTF8.GetBytes("{}"), []);
        using (var stream = new FileStream(_path, FileMode.Open, FileAccess.Write)) stream.SetLength(8 + declared + 16);
        Assert.That(OpenError(), Does.Contain($"header length {declared} exceeds the {SafetensorsHeader.MaxHeaderBytes}-byte limit"));
    }

    [Test]
    public void HeaderIsNotAnObject()
    {
        SafetensorsWriter.WriteRaw(_path, "[1, 2]", Zeros(8));
        Assert.That(OpenError(), Does.Contain("header is not a JSON object"));
    }

    [Test]
    public void OffsetsOutsideTheData()
    {
        SafetensorsWriter.WriteRaw(_path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", Zeros(16));
        Assert.That(OpenError(), Does.Contain("tensor 'w': data_offsets [8, 24] lie outside the data section of 16 bytes"));
    }

    [Test]
    public void OffsetsEndingBeforeTheyBegin()
    {
        SafetensorsWriter.WriteRaw(_path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", Zeros(16));
        Assert.That(OpenError(), Does.Contain("tensor 'w': data_offsets [8, 4] end before they begin"));
    }

    [Test]
    public void OverlappingTensors()
    {
        SafetensorsWriter.WriteRaw(_path,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
            Zeros(12));
        Assert.That(OpenError(), Does.Contain("tensor 'b' bytes [4, 12] overlap tensor 'a' [0, 8]"));
    }

    [Test]
    public void ByteLengthNotMatchingTheShape()
    {
        SafetensorsWriter.WriteRaw(_path, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", Zeros(8));
        Assert.That(OpenError(), Does.Contain("tensor 'w': holds 8 bytes but shape [2, 3] x BF16 needs 12"));
    }

    [Test]
    public void DuplicateNames()
    {
        SafetensorsWriter.WriteRaw(_path,
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
            Zeros(8));
        Assert.That(OpenError(), Does.Contain("tensor 'a' is declared more than once"));
    }

    [TestCase("I64")]
    [TestCase("F64")]
    [TestCase("F8_E4M3")]
    public void UnsupportedDtype(string dtype)
    {
        new SafetensorsWriter().Add("ok", [1], [1f]).AddRaw("odd", dtype, [1], Zeros(8)).Save(_path);
        Assert.That(OpenError(), Does.Contain($"unsupported dtype {dtype} in tensor 'odd'"));
    }

    [Test]
    public void MissingShape()
    {
        SafetensorsWriter.WriteRaw(_path, "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", Zeros(4));
        Assert.That(OpenError(), Does.Contain("tensor 'w': header entry has no \"shape\" array"));
    }

    [Test]
    public void NegativeShape()
    {
        SafetensorsWriter.WriteRaw(_path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", Zeros(4));
        Assert.That(OpenError(), Does.Contain("tensor 'w': \"shape\" holds -1, not a non-negative integer"));
    }

    [Test]
    public void MissingFile()
    {
        var e = Assert.Throws<EngineException>(() => SafetensorsFile.Open(_temp.File("absent.safetensors")));
        Assert.That(e!.Message, Does.Contain("absent.safetensors").And.Contain("not found"));
    }

    [Test]
    public void AFailedOpenReleasesTheFile()
    {
        SafetensorsWriter.WriteRaw(_path, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", Zeros(16));
        OpenError();
        // The mapping and its file handle are gone: the file can be opened exclusively and overwritten.
        using (var exclusive = new FileStream(_path, FileMode.Open, FileAccess.ReadWrite, FileShare.None)) exclusive.SetLength(0);
        new SafetensorsWriter().Add("w", [1], [1f]).Save(_path);
        using var file = SafetensorsFile.Open(_path);
        Assert.That(file.TensorNames, Is.EqualTo(new[] { "w" }));
    }
}
