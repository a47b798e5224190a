using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>
/// The quantizers reproduce llama-quantize's bytes (Q8_0, Q4_0, Q4_K from kq-tiny's files; Q5_0 on hand-checked
/// blocks), round-trip within their step, and QuantizedCheckpoint quantizes exactly the matrices, with
/// llama.cpp's Q4_K-to-Q5_0 fallback.
/// </summary>
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

    [TestCase("kq-tiny-q4_0.gguf", "blk.0.attn_q.weight")]
    [TestCase("kq-tiny-q4_0.gguf", "blk.3.ffn_down.weight")]
    [TestCase("kq-tiny-q4_0.gguf", "token_embd.weight")]
    [TestCase("kq-tiny-q4_k_m.gguf", "blk.0.attn_q.weight")]
    [TestCase("kq-tiny-q4_k_m.gguf", "blk.1.ffn_down.weight")]
    [TestCase("kq-tiny-q4_k_m.gguf", "token_embd.weight")]
    public void QuantizerMatchesLlamaQuantizeByteForByte(string file, string tensor)
    {
        using var f32 = GgufFile.Open(GgufAssets.Path("kq-tiny-f32.gguf"));
        using var quantizedFile = GgufFile.Open(GgufAssets.Path(file));
        Assert.That(f32.TryGetTensor(tensor, out var source));
        Assert.That(quantizedFile.TryGetTensor(tensor, out var quantized));
        var type = GgufCheckpoint.StoredType(quantized.Type)!.Value;
        Assert.That(type, Is.EqualTo(file.Contains("q4_0") ? DType.Q4_0 : DType.Q4_K), "the asset's type");
        var values = new float[source.ElementCount];
        GgufDequantizer.Dequantize(source.Type, f32.Bytes(source), values, tensor);
        var bytes = new byte[quantized.ByteLength];
        GgufQuantizer.Quantize(type, values, bytes);
        Assert.That(bytes, Is.EqualTo(quantizedFile.Bytes(quantized).ToArray()));
    }

    /// <summary>
    /// Q4_0 / Q5_0 by hand: the value of largest magnitude m gives d = m / -8 (-16), so m itself is level 0
    /// and the others trunc(x / d + 8.5) (16.5), capped at 15 (31).
    /// </summary>
    [Test]
    public void Q4_0AndQ5_0MatchHandCheckedBlocks()
    {
        var x = new float[32];
        x[0] = -2f; // largest magnitude, negative: d = 0.25 (Q4_0), 0.125 (Q5_0)
        x[1] = 1f; x[2] = 0.3f; x[17] = -0.7f; x[31] = 1.9f;
        var q4 = new byte[18];
        GgufQuantizer.QuantizeQ4_0(x, q4);
        Assert.That(BitConverter.ToHalf(q4, 0), Is.EqualTo((Half)0.25f));
        // level = min(15, trunc(x * 4 + 8.5)): -2 -> 0, 1 -> 12, 0.3 -> 9, 0 -> 8, -0.7 -> 5, 1.9 -> 15 (16.1 capped)
        Assert.That(q4[2] & 0x0F, Is.EqualTo(0));
        Assert.That(q4[3] & 0x0F, Is.EqualTo(12));
        Assert.That(q4[4] & 0x0F, Is.EqualTo(9));
        Assert.That(q4[5] & 0x0F, Is.EqualTo(8));
        Assert.That(q4[3] >> 4, Is.EqualTo(5)); // x[17]
        Assert.That(q4[17] >> 4, Is.EqualTo(15)); // x[31]
        var q5 = new byte[22];
        GgufQuantizer.QuantizeQ5_0(x, q5);
        Assert.That(BitConverter.ToHalf(q5, 0), Is.EqualTo((Half)0.125f));
        // level = min(31, trunc(x * 8 + 16.5)): -2 -> 0, 1 -> 24, 0.3 -> 18, 0 -> 16, -0.7 -> 10, 1.9 -> 31 (31.7)
        uint high = BitConverter.ToUInt32(q5, 2);
        int Level(int i) => (i < 16 ? q5[6 + i] & 0x0F : q5[6 + i - 16] >> 4) | (int)((high >> i) & 1) << 4;
        Assert.That(new[] { Level(0), Level(1), Level(2), Level(3), Level(17), Level(31) }, Is.EqualTo(new[] { 0, 24, 18, 16, 10, 31 }));
        var back = new float[32];
        GgufDequantizer.Dequantize(GgmlType.Q5_0, q5, back, "q5_0");
        Assert.That(back[1], Is.EqualTo(1f)); // (24 - 16) * 0.125
        Assert.That(back[0], Is.EqualTo(-2f));
    }

    /// <summary>
    /// Dequantize(quantize(x)) stays within each type's step d on random rows (with a few larger values): half a
    /// step for Q8_0 (plus its f16 scale's rounding over 127 levels), a whole one for Q4_0 / Q5_0 (the side
    /// opposite the largest value is capped one level short) and for Q4_K's searched fit (step: the sub-block's
    /// range over 15).
    /// </summary>
    [TestCase(DType.Q8_0)]
    [TestCase(DType.Q4_0)]
    [TestCase(DType.Q5_0)]
    [TestCase(DType.Q4_K)]
    public void RoundTripStaysWithinTheStep(DType type)
    {
        var rng = new Random(5);
        const int n = 1024;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1) * (i % 97 == 0 ? 4 : 1);
        var bytes = new byte[DTypes.ByteCount(type, n)];
        GgufQuantizer.Quantize(type, x, bytes);
        var back = new float[n];
        GgufDequantizer.Dequantize(GgufCheckpoint.GgmlTypeOf(type), bytes, back, "round trip");
        for (int b = 0; b < n / 32; b++)
        {
            var values = x.AsSpan(b * 32, 32).ToArray();
            double amax = values.Max(Math.Abs);
            double allowed = type switch
            {
                DType.Q8_0 => 0.57 * amax / 127,
                DType.Q4_0 => 1.01 * amax / 8,
                DType.Q5_0 => 1.02 * amax / 16,
                _ => (values.Max() - Math.Min(0, values.Min())) / 15 + 1e-3,
            };
            for (int i = 0; i < 32; i++)
                Assert.That(Math.Abs(back[b * 32 + i] - x[b * 32 + i]), Is.LessThanOrEqualTo(allowed), $"{type} value {b * 32 + i}");
        }
    }

    /// <summary>Q5_0's dequantizer against ggml's formula on a hand-built block: x = d * ((nibble | fifth bit &lt;&lt; 4) - 16).</summary>
    [Test]
    public void Q5_0DequantizesAHandBuiltBlock()
    {
        var block = new byte[22];
        BitConverter.TryWriteBytes(block.AsSpan(0), BitConverter.HalfToUInt16Bits((Half)0.5f));
        uint high = 0b1000_0000_0000_0001_0000_0000_0000_0101; // fifth bits of values 0, 2, 16 and 31
        BitConverter.TryWriteBytes(block.AsSpan(2), high);
        for (int j = 0; j < 16; j++) block[6 + j] = (byte)(j | ((15 - j) << 4)); // value j: nibble j; value 16 + j: 15 - j
        var values = new float[32];
        GgufDequantizer.Dequantize(GgmlType.Q5_0, block, values, "q5_0");
        for (int i = 0; i < 32; i++)
        {
            int nibble = i < 16 ? i : 15 - (i - 16);
            int q = nibble | (int)((high >> i) & 1) << 4;
            Assert.That(values[i], Is.EqualTo(0.5f * (q - 16)), $"value {i}");
        }
        Assert.That(values[0], Is.EqualTo(0f)); // (0 | 16) - 16
        Assert.That(values[1], Is.EqualTo(-7.5f)); // 1 - 16
        Assert.That(values[31], Is.EqualTo(0f)); // (0 | 16) - 16
    }

    [Test]
    public void QuantizedCheckpointFallsBackToQ5_0ForRowsNotAMultipleOf256()
    {
        using var f32 = Checkpoint.Open(GgufAssets.Path("kq-tiny-f32.gguf"));
        using var quantized = new QuantizedCheckpoint(f32, DType.Q4_K);
        Assert.That(quantized.TypeFor(896), Is.EqualTo(DType.Q5_0));
        Assert.That(quantized.TypeFor(4864), Is.EqualTo(DType.Q4_K));
        Assert.That(quantized.TypeFor(172), Is.Null);
        Assert.That(quantized.Get(TensorNames.Weight(TensorNames.DownProj(1))).DType, Is.EqualTo(DType.Q4_K));
        Assert.That(quantized.Summary, Is.EqualTo("--quantize q4_k: 1 matrices Q4_K"));
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
        Assert.That(QuantizedCheckpoint.ParseType("Q4_K"), Is.EqualTo(DType.Q4_K));
        var e = Assert.Throws<EngineException>(() => QuantizedCheckpoint.ParseType("q3_k"));
        Assert.That(e!.Message, Is.EqualTo("--quantize 'q3_k' is not a quantization type; supported: q8_0, q4_0, q4_k"));
    }
}
