using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints;

public class SafetensorsFileTests
{
    private TempFolder _temp = null!;

    [SetUp] public void SetUp() => _temp = new TempFolder();
    [TearDown] public void TearDown() => _temp.Dispose();

    [TestCase(DType.F32)]
    [TestCase(DType.F16)]
    [TestCase(DType.BF16)]
    public void ReadsBackEveryTensorWithItsDtypeShapeAndValues(DType dtype)
    {
        float[] a = SafetensorsWriter.RandomValues(12, seed: 1);
        float[] b = SafetensorsWriter.RandomValues(5, seed: 2);
        string path = _temp.File("model.safetensors");
        new SafetensorsWriter().Add("a", [3, 4], a, dtype).Add("b", [5], b, dtype).Save(path);

        using var file = SafetensorsFile.Open(path);
        Assert.That(file.TensorNames, Is.EquivalentTo(new[] { "a", "b" }));
        var view = file.Get("a");
        Assert.That(view.DType, Is.EqualTo(dtype));
        Assert.That(view.Shape, Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(view.ByteLength, Is.EqualTo(12 * DTypes.SizeOf(dtype)));
        Assert.That(view.File, Is.EqualTo(path));
        // Each stored value is the input rounded to the dtype; relative error bounded by its unit roundoff.
        double tolerance = dtype switch { DType.F32 => 0, DType.F16 => 1.0 / 2048, _ => 1.0 / 256 };
        float[] read = view.ToFloat32Array();
        for (int i = 0; i < a.Length; i++)
            Assert.That(read[i], Is.EqualTo(a[i]).Within(Math.Abs(a[i]) * tolerance + 1e-7), $"element {i}");
        Assert.That(file.Get("b").ToFloat32Array()[4], Is.EqualTo(b[4]).Within(Math.Abs(b[4]) * tolerance + 1e-7));
    }

    [Test]
    public void Bf16ValuesAreRoundedToNearestEven()
    {
        // 1 + 2^-8 lies exactly halfway between two bf16 values: ties go to the even mantissa (1.0).
        float[] values = [1f + 1f / 256, 1f + 3f / 256, -2.5f];
        string path = _temp.File("m.safetensors");
        new SafetensorsWriter().Add("t", [3], values, DType.BF16).Save(path);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Get("t").ToFloat32Array(), Is.EqualTo(new[] { 1f, 1f + 4f / 256, -2.5f }));
    }

    [Test]
    public void MetadataKeyIsAllowedAndNotATensor()
    {
        string path = _temp.File("m.safetensors");
        var writer = new SafetensorsWriter().Add("x", [2], [0.5f, -1.5f]);
        writer.Metadata["note"] = "hello";
        writer.Save(path);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.TensorNames, Is.EqualTo(new[] { "x" }));
        Assert.That(file.TryGet("__metadata__", out _), Is.False);
    }

    [Test]
    public void MissingTensorIsANamedError()
    {
        string path = _temp.File("m.safetensors");
        new SafetensorsWriter().Add("x", [2], [0.5f, -1.5f]).Save(path);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.TryGet("y", out _), Is.False);
        var e = Assert.Throws<EngineException>(() => file.Get("y"));
        Assert.That(e!.Message, Does.Contain("'y'").And.Contain("m.safetensors"));
    }

    [Test]
    public void ViewsAreRejectedAfterDispose()
    {
        string path = _temp.File("m.safetensors");
        new SafetensorsWriter().Add("x", [2], [0.5f, -1.5f]).Save(path);
        var file = SafetensorsFile.Open(path);
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.TryGet("x", out _));
        Assert.DoesNotThrow(file.Dispose);
    }

    [Test]
    public void EmptyTensorIsAllowed()
    {
        string path = _temp.File("m.safetensors");
        new SafetensorsWriter().Add("empty", [0, 4], []).Add("x", [1], [2f]).Save(path);
        using var file = SafetensorsFile.Open(path);
        Assert.That(file.Get("empty").ByteLength, Is.EqualTo(0));
        Assert.That(file.Get("x").ToFloat32Array(), Is.EqualTo(new[] { 2f }));
    }

    [Test]
    public void CheckpointOpenFindsTheSingleFile()
    {
        new SafetensorsWriter().Add("x", [1], [3f]).Save(_temp.File("model.safetensors"));
        using var checkpoint = Checkpoint.Open(_temp.Path);
        Assert.That(checkpoint, Is.InstanceOf<SafetensorsFile>());
        Assert.That(checkpoint.Get("x").ToFloat32Array(), Is.EqualTo(new[] { 3f }));
    }

    [Test]
    public void CheckpointOpenOnAFolderWithoutWeightsSaysSo()
    {
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.StartWith("no model.safetensors or model.safetensors.index.json in"));
    }

    [Test]
    public void OpensThroughASymbolicLink()
    {
        // The Hugging Face cache's snapshot files are links to blobs; the file's size is the blob's.
        string blob = _temp.File("blob");
        new SafetensorsWriter().Add("x", [3], [1f, -2f, 3f]).Save(blob);
        string link = _temp.File("model.safetensors");
        File.CreateSymbolicLink(link, blob);
        using var file = SafetensorsFile.Open(link);
        Assert.That(file.Get("x").ToFloat32Array(), Is.EqualTo(new[] { 1f, -2f, 3f }));
    }

    [Test]
    public void CheckpointOpenTakesAFolderWithOneDifferentlyNamedFile()
    {
        new SafetensorsWriter().Add("x", [1], [4f]).Save(_temp.File("consolidated.safetensors"));
        using var checkpoint = Checkpoint.Open(_temp.Path);
        Assert.That(checkpoint.Get("x").ToFloat32Array(), Is.EqualTo(new[] { 4f }));
    }
}
