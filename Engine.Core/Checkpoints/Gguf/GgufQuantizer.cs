using System.Buffers.Binary;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>Quantizes float32 rows into ggml block formats as ggml's reference <c>quantize_row_*_ref</c> functions do.</summary>
public static class GgufQuantizer
{
    /// <summary>Q8_0: per 32 values d = max|x| / 127 (stored as f16), q = round(x / d) half away from zero.</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> output)
    {
        if (x.Length % 32 != 0 || output.Length < x.Length / 32 * 34) throw new ArgumentException("Q8_0 quantizes whole blocks of 32 into 34 bytes each");
        for (int b = 0; b < x.Length / 32; b++)
        {
            var values = x.Slice(b * 32, 32);
            var block = output.Slice(b * 34, 34);
            float amax = 0;
            foreach (float v in values) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127;
            float id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(block, (Half)d);
            for (int j = 0; j < 32; j++) block[2 + j] = (byte)(sbyte)MathF.Round(values[j] * id, MidpointRounding.AwayFromZero);
        }
    }
}
