using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>The Q8_0 quantizer reproduces llama-quantize's bytes, and QuantizedCheckpoint quantizes exactly the matrices.</summary>
public class GgufQuantizerTests
{
    [TestCase("blk.0.attn_v.weight")]
    [TestCase("blk.3.ffn_down.weight")]
    [TestCase("token_embd.weight")]
    public void Q8_0MatchesLlamaQuantizeByteForByte(string tensor)
    {
        using var f32 = GgufFile.Open(GgufAssets.Path("kq-tiny-f32.gguf"));
        using var q8 = GgufFile.Open(GgufAssets.Path("kq-tiny-q8_0.gguf"));
        Assert.That(f32.TryGetTensor(tensor, out var source));
        Assert.That(q8.TryGetTensor(tensor, out var quantized));
        var values = new float[source.ElementCount];
        GgufDequantizer.Dequantize(source.Type, f32.Bytes(source), values, tensor);
        var bytes = new byte[quantized.ByteLength];
        GgufQuantizer.QuantizeQ8_0(values, bytes);
        Assert.That(bytes, Is.EqualTo(q8.Bytes(quantized).ToArray()));
    }

    [Test]
    public void QuantizedCheckpointQuantizesMatricesOnly()
    {
        using var f32 = Checkpoint.Open(GgufAssets.Path("kq-tiny-f32.gguf"));
        using var q8 = Checkpoint.Open(GgufAssets.Path("kq-tiny-q8_0.gguf"));
        using var quantized = new QuantizedCheckpoint(f32, DType.Q8_0);
        string down = TensorNames.Weight(TensorNames.DownProj(1)), norm = TensorNames.InputNorm(1);
        Assert.That(quantized.Get(down).DType, Is.EqualTo(DType.Q8_0));
        Assert.That(quantized.Get(down).Bytes.ToArray(), Is.EqualTo(q8.Get(down).Bytes.ToArray()));
        Assert.That(quantized.Get(norm).DType, Is.EqualTo(DType.F32));
        var e = Assert.Throws<EngineException>(() => QuantizedCheckpoint.ParseType("q4_k"));
        Assert.That(e!.Message, Does.Contain("not supported yet"));
    }
}
