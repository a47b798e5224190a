using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints;

/// <summary>The shared real checkpoints load and hold what their configs say.</summary>
public class RealCheckpointTests
{
    [Test]
    public void Stories260KHas47F32TensorsAndNoLmHead()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        using var checkpoint = Checkpoint.Open(folder);
        Assert.That(checkpoint.TensorNames, Has.Count.EqualTo(47));
        Assert.That(checkpoint.TryGet(TensorNames.LmHead, out _), Is.False);
        var embedding = checkpoint.Get(TensorNames.Embedding);
        Assert.That(embedding.DType, Is.EqualTo(DType.F32));
        Assert.That(embedding.Shape, Is.EqualTo(new long[] { 512, 64 }));
        Assert.That(checkpoint.Get(TensorNames.Weight(TensorNames.KProj(4))).Shape, Is.EqualTo(new long[] { 32, 64 }));
        float[] values = embedding.ToFloat32Array();
        Assert.That(values.All(float.IsFinite), Is.True);
        Assert.That(values.Count(v => v != 0), Is.GreaterThan(values.Length / 2), "a trained embedding is not mostly zeros");
    }

    [Test]
    public void LlamaTinyBf16IsTheRoundToNearestEvenOfTheF32File()
    {
        string bf16Folder = SharedAssets.Require("models", "llama-tiny");
        string f32Folder = SharedAssets.Require("models", "llama-tiny-f32");
        using var bf16 = Checkpoint.Open(bf16Folder);
        using var f32 = Checkpoint.Open(f32Folder);
        Assert.That(bf16.TensorNames, Is.EquivalentTo(f32.TensorNames));
        foreach (string name in f32.TensorNames)
        {
            var wide = f32.Get(name);
            var narrow = bf16.Get(name);
            Assert.That(wide.DType, Is.EqualTo(DType.F32), name);
            Assert.That(narrow.DType, Is.EqualTo(DType.BF16), name);
            Assert.That(narrow.Shape, Is.EqualTo(wide.Shape), name);
            float[] expected = wide.ToFloat32Array().Select(v => BFloat16.ToFloat(BFloat16.FromFloat(v))).ToArray();
            Assert.That(narrow.ToFloat32Array(), Is.EqualTo(expected), name);
        }
    }

    [Test]
    public void LlamaTinyReadsInSlices()
    {
        string folder = SharedAssets.Require("models", "llama-tiny");
        using var checkpoint = Checkpoint.Open(folder);
        var embedding = checkpoint.Get(TensorNames.Embedding);
        Assert.That(embedding.Shape, Is.EqualTo(new long[] { 320, 128 }));
        float[] whole = embedding.ToFloat32Array();
        var row = new float[128];
        embedding.ReadFloat32(7 * 128, row);
        Assert.That(row, Is.EqualTo(whole.Skip(7 * 128).Take(128).ToArray()));
        Assert.Throws<ArgumentOutOfRangeException>(() => embedding.ReadFloat32(320 * 128 - 5, row));
    }
}
