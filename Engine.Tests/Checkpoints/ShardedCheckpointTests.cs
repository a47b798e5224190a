using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints;

public class ShardedCheckpointTests
{
    private TempFolder _temp = null!;

    [SetUp] public void SetUp() => _temp = new TempFolder();
    [TearDown] public void TearDown() => _temp.Dispose();

    private SafetensorsWriter ThreeTensors() => new SafetensorsWriter()
        .Add("a", [2, 3], SafetensorsWriter.RandomValues(6, 1), DType.BF16)
        .Add("b", [4], SafetensorsWriter.RandomValues(4, 2), DType.F16)
        .Add("c", [5], SafetensorsWriter.RandomValues(5, 3), DType.F32);

    private string IndexPath => _temp.File(ShardedCheckpoint.IndexFileName);

    [Test]
    public void LoadsTensorsFromEveryShard()
    {
        var shards = ThreeTensors().SaveSharded(_temp.Path, 2);
        using var checkpoint = Checkpoint.Open(_temp.Path);
        Assert.That(checkpoint, Is.InstanceOf<ShardedCheckpoint>());
        Assert.That(checkpoint.TensorNames, Is.EquivalentTo(new[] { "a", "b", "c" }));
        Assert.That(checkpoint.Get("a").File, Is.EqualTo(shards[0]));
        Assert.That(checkpoint.Get("b").File, Is.EqualTo(shards[1]));
        Assert.That(checkpoint.Get("c").ToFloat32Array(), Is.EqualTo(SafetensorsWriter.RandomValues(5, 3)));
        Assert.That(checkpoint.Get("b").DType, Is.EqualTo(DType.F16));
    }

    [Test]
    public void MissingShard()
    {
        var shards = ThreeTensors().SaveSharded(_temp.Path, 2);
        File.Delete(shards[1]);
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.Contain("shard model-00002-of-00002.safetensors named by the index is missing"));
    }

    [Test]
    public void IndexNamingATensorAbsentFromItsShard()
    {
        ThreeTensors().SaveSharded(_temp.Path, 2);
        SafetensorsWriter.WriteIndex(_temp.Path, new Dictionary<string, string>
        {
            ["a"] = "model-00001-of-00002.safetensors",
            ["b"] = "model-00001-of-00002.safetensors",
            ["c"] = "model-00001-of-00002.safetensors",
        });
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.Contain("the index puts tensor 'b' in model-00001-of-00002.safetensors, but that shard does not contain it"));
    }

    [Test]
    public void MalformedShardIsReportedByItsFileAndReleasesTheOthers()
    {
        var shards = ThreeTensors().SaveSharded(_temp.Path, 2);
        File.WriteAllBytes(shards[1], []);
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.Contain("model-00002-of-00002.safetensors: file is empty"));
        // The first shard was mapped and must have been released.
        using (var exclusive = new FileStream(shards[0], FileMode.Open, FileAccess.ReadWrite, FileShare.None)) { }
    }

    [Test]
    public void IndexThatIsNotJson()
    {
        File.WriteAllText(IndexPath, "{ weight_map");
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.Contain(ShardedCheckpoint.IndexFileName).And.Contain("not valid JSON"));
    }

    [Test]
    public void IndexWithoutWeightMap()
    {
        File.WriteAllText(IndexPath, "{\"metadata\": {}}");
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.Contain("no \"weight_map\" object"));
    }

    [Test]
    public void IndexPointingOutsideTheFolder()
    {
        SafetensorsWriter.WriteIndex(_temp.Path, new Dictionary<string, string> { ["a"] = "../elsewhere.safetensors" });
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.Contain("'../elsewhere.safetensors', which is not a plain file name"));
    }

    [Test]
    public void SeveralFilesWithoutIndexAreAmbiguous()
    {
        ThreeTensors().SaveSharded(_temp.Path, 2);
        File.Delete(IndexPath);
        var e = Assert.Throws<EngineException>(() => Checkpoint.Open(_temp.Path));
        Assert.That(e!.Message, Does.Contain("holds 2 .safetensors files but no model.safetensors.index.json"));
    }
}
