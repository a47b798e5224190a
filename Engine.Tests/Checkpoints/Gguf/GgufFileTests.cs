using Engine.Core.Checkpoints.Gguf;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>The llama.cpp-made GGUF files parse: header, metadata and tensor table as gguf-py read them.</summary>
public class GgufFileTests
{
    [TestCaseSource(typeof(GgufAssets), nameof(GgufAssets.Files))]
    public void TensorTableMatchesTensorTypesJson(string name)
    {
        using var file = GgufFile.Open(GgufAssets.Path(name));
        using var types = GgufAssets.Json("tensor-types.json");
        var expected = types.RootElement.GetProperty(name).GetProperty("tensors").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.That(file.Tensors.Select(t => t.Name), Is.EquivalentTo(expected.Keys));
        foreach (var tensor in file.Tensors)
            Assert.That(tensor.Type.ToString(), Is.EqualTo(expected[tensor.Name]), tensor.Name);
    }

    [TestCaseSource(typeof(GgufAssets), nameof(GgufAssets.Files))]
    public void MetadataHasTheLlamaHyperparametersAndVocabulary(string name)
    {
        using var file = GgufFile.Open(GgufAssets.Path(name));
        var m = file.Metadata;
        Assert.That(file.Version, Is.EqualTo(3));
        Assert.That(m.GetString("general.architecture"), Is.EqualTo("llama"));
        Assert.That(m.GetFloat("llama.attention.layer_norm_rms_epsilon"), Is.EqualTo((double)9.9999997e-06f));
        Assert.That(m.GetString("tokenizer.ggml.model"), Is.EqualTo("llama"));
        Assert.That(m.GetArray<string>("tokenizer.ggml.tokens", "string"), Has.Length.EqualTo(512));
        Assert.That(m.GetArray<float>("tokenizer.ggml.scores", "float32"), Has.Length.EqualTo(512));
        var tokenTypes = m.GetArray<int>("tokenizer.ggml.token_type", "int32")!;
        Assert.That(tokenTypes.Count(t => t == 3), Is.EqualTo(3), "control tokens");
        Assert.That(tokenTypes.Count(t => t == 6), Is.EqualTo(256), "byte tokens");
        Assert.That(m.GetInteger("tokenizer.ggml.bos_token_id"), Is.EqualTo(1));
        Assert.That(m.GetInteger("tokenizer.ggml.eos_token_id"), Is.EqualTo(2));
        Assert.That(m.GetBool("tokenizer.ggml.add_bos_token"), Is.True);
        Assert.That(file.Alignment, Is.EqualTo(32));
    }

    [Test]
    public void TensorShapesAreReversedGgmlDims()
    {
        using var file = GgufFile.Open(GgufAssets.Path("kq-tiny-q4_k_m.gguf"));
        Assert.That(file.TryGetTensor("blk.0.ffn_down.weight", out var down));
        Assert.That(down.Dims, Is.EqualTo(new long[] { 768, 256 }));
        Assert.That(down.Shape, Is.EqualTo(new long[] { 256, 768 }));
        Assert.That(down.ByteLength, Is.EqualTo(256 * 768 / 256 * 144));
    }
}
