using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints;

public class RandomCheckpointTests
{
    private static ModelConfig Small(bool tied) => new()
    {
        Architecture = ModelArchitecture.Qwen2, HiddenSize = 64, IntermediateSize = 96, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, HeadDim = 16,
        VocabSize = 300, MaxPositionEmbeddings = 128, RmsNormEps = 1e-6, RopeTheta = 10000, TieWordEmbeddings = tied, QkvBias = true,
    };

    private static float[] Values(TensorView t) => t.DType switch
    {
        DType.F32 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.Bytes).ToArray(),
        DType.BF16 => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(t.Bytes).ToArray().Select(BFloat16.ToFloat).ToArray(),
        _ => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(t.Bytes).ToArray().Select(h => (float)h).ToArray(),
    };

    [TestCase(DType.BF16, false), TestCase(DType.F16, true), TestCase(DType.F32, false)]
    public void HoldsExactlyTheSpecsTensorsInTheChosenDtype(DType dtype, bool tied)
    {
        var config = Small(tied);
        using var checkpoint = new RandomCheckpoint(config, dtype, seed: 3);
        WeightSpec.Check(config, checkpoint);
        var spec = WeightSpec.For(config);
        Assert.That(checkpoint.TensorNames, Is.EquivalentTo(spec.Select(t => t.Name)));
        Assert.That(checkpoint.TotalBytes, Is.EqualTo(spec.Sum(t => t.ElementCount) * DTypes.SizeOf(dtype)));
        Assert.That(spec.Select(t => checkpoint.Get(t.Name).DType), Is.All.EqualTo(dtype));
        Assert.That(() => checkpoint.Get("model.nothing"), Throws.TypeOf<EngineException>());
    }

    [Test]
    public void ValuesHaveWeightScaleAndNormsNearOne()
    {
        using var checkpoint = new RandomCheckpoint(Small(false), DType.F32, seed: 1);
        var embedding = Values(checkpoint.Get(TensorNames.Embedding));
        double mean = embedding.Average(v => (double)v);
        double std = Math.Sqrt(embedding.Average(v => (v - mean) * (v - mean)));
        Assert.That(mean, Is.EqualTo(0).Within(0.002));
        Assert.That(std, Is.EqualTo(RandomCheckpoint.WeightScale).Within(0.002));
        Assert.That(embedding, Has.None.EqualTo(0f));
        var norm = Values(checkpoint.Get(TensorNames.InputNorm(1)));
        Assert.That(norm, Has.All.InRange(0.9f, 1.1f));
        Assert.That(norm.Distinct().Count(), Is.GreaterThan(norm.Length / 2));
    }

    [Test]
    public void SameSeedSameBytesOtherSeedOtherBytes()
    {
        var config = Small(false);
        using var a = new RandomCheckpoint(config, DType.BF16, seed: 7);
        using var b = new RandomCheckpoint(config, DType.BF16, seed: 7);
        using var c = new RandomCheckpoint(config, DType.BF16, seed: 8);
        string name = TensorNames.Weight(TensorNames.DownProj(1));
        Assert.That(a.Get(name).Bytes.SequenceEqual(b.Get(name).Bytes), Is.True);
        Assert.That(a.Get(name).Bytes.SequenceEqual(c.Get(name).Bytes), Is.False);
        // Tensors of one checkpoint differ from each other too.
        Assert.That(a.Get(TensorNames.Weight(TensorNames.GateProj(0))).Bytes.SequenceEqual(a.Get(TensorNames.Weight(TensorNames.UpProj(0))).Bytes), Is.False);
    }

    [Test]
    public void RejectsIntegerDtype() =>
        Assert.That(() => new RandomCheckpoint(Small(true), DType.I32), Throws.TypeOf<EngineException>());
}
