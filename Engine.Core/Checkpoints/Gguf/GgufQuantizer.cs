using System.Buffers.Binary;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// Quantizes float32 rows into ggml block formats as ggml's reference <c>quantize_row_*_ref</c> functions
/// do (what llama-quantize writes without an importance matrix): the same float operations in the same
/// order, so the bytes are equal.
/// </summary>
public static class GgufQuantizer
{
    /// <summary>Quantizes whole blocks of <paramref name="type"/> (Q8_0, Q4_0, Q5_0 or Q4_K) from <paramref name="x"/> into <paramref name="output"/>.</summary>
    public static void Quantize(DType type, ReadOnlySpan<float> x, Span<byte> output)
    {
        switch (type)
        {
            case DType.Q8_0: QuantizeQ8_0(x, output); break;
            case DType.Q4_0: QuantizeQ4_0(x, output); break;
            case DType.Q5_0: QuantizeQ5_0(x, output); break;
            case DType.Q4_K: QuantizeQ4_K(x, output); break;
            default: throw new ArgumentException($"no quantizer for {type}", nameof(type));
        }
    }

    /// <summary>Q8_0: per 32 values d = max|x| / 127 (stored as f16), q = round(x / d) half away from zero.</summary>
    public static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> output)
    {
        CheckBlocks(x, output, 32, 34, "Q8_0");
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

    /// <summary>
    /// Q4_0: per 32 values d = m / -8 where m is the value of largest magnitude (so m itself maps to q = 0),
    /// q = min(15, trunc(x / d + 8.5)); values 0-15 in low nibbles, 16-31 in high ones.
    /// </summary>
    public static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<byte> output)
    {
        CheckBlocks(x, output, 32, 18, "Q4_0");
        for (int b = 0; b < x.Length / 32; b++)
        {
            var values = x.Slice(b * 32, 32);
            var block = output.Slice(b * 18, 18);
            float id = SignedMaxScale(values, -8, block);
            for (int j = 0; j < 16; j++)
                block[2 + j] = (byte)(Level(values[j] * id, 8.5f, 15) | (Level(values[j + 16] * id, 8.5f, 15) << 4));
        }
    }

    /// <summary>Q5_0: as Q4_0 with d = m / -16 and q = min(31, trunc(x / d + 16.5)), the fifth bits in a little-endian u32 (bit j for value j).</summary>
    public static void QuantizeQ5_0(ReadOnlySpan<float> x, Span<byte> output)
    {
        CheckBlocks(x, output, 32, 22, "Q5_0");
        for (int b = 0; b < x.Length / 32; b++)
        {
            var values = x.Slice(b * 32, 32);
            var block = output.Slice(b * 22, 22);
            float id = SignedMaxScale(values, -16, block);
            uint high = 0;
            for (int j = 0; j < 16; j++)
            {
                int q0 = Level(values[j] * id, 16.5f, 31), q1 = Level(values[j + 16] * id, 16.5f, 31);
                block[6 + j] = (byte)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
                high |= (uint)(q0 >> 4) << j;
                high |= (uint)(q1 >> 4) << (j + 16);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(block[2..], high);
        }
    }

    /// <summary>
    /// Q4_K: per super-block of 256, each sub-block of 32 gets a scale and min from ggml's make_qkx2_quants
    /// (a weighted least-squares search over 21 candidate scales), the 8 scales and mins are quantized to
    /// 6 bits against their maxima (f16 d, dmin), and the values re-quantized against the rounded ones.
    /// </summary>
    public static void QuantizeQ4_K(ReadOnlySpan<float> x, Span<byte> output)
    {
        CheckBlocks(x, output, 256, 144, "Q4_K");
        Span<byte> levels = stackalloc byte[256];
        Span<byte> scratch = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[8];
        Span<float> scales = stackalloc float[8];
        for (int b = 0; b < x.Length / 256; b++)
        {
            var values = x.Slice(b * 256, 256);
            var block = output.Slice(b * 144, 144);
            block.Clear();
            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < 8; j++)
            {
                var sub = values.Slice(32 * j, 32);
                float sumX2 = 0;
                foreach (float v in sub) sumX2 += v * v;
                float averageX = MathF.Sqrt(sumX2 / 32);
                for (int l = 0; l < 32; l++) weights[l] = averageX + MathF.Abs(sub[l]);
                scales[j] = MakeQkx2Quants(sub, 15, weights, levels.Slice(32 * j, 32), out mins[j], scratch, -1f, 0.1f, 20);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }
            float inverseScale = maxScale > 0 ? 63f / maxScale : 0f;
            float inverseMin = maxMin > 0 ? 63f / maxMin : 0f;
            var packed = block.Slice(4, 12);
            for (int j = 0; j < 8; j++)
            {
                int ls = Math.Min(63, (int)(byte)NearestInt(inverseScale * scales[j]));
                int lm = Math.Min(63, (int)(byte)NearestInt(inverseMin * mins[j]));
                if (j < 4)
                {
                    packed[j] = (byte)ls;
                    packed[j + 4] = (byte)lm;
                }
                else
                {
                    packed[j + 4] = (byte)((ls & 0x0F) | ((lm & 0x0F) << 4));
                    packed[j - 4] |= (byte)((ls >> 4) << 6);
                    packed[j] |= (byte)((lm >> 4) << 6);
                }
            }
            var d = (Half)(maxScale / 63f);
            var dmin = (Half)(maxMin / 63f);
            BinaryPrimitives.WriteHalfLittleEndian(block, d);
            BinaryPrimitives.WriteHalfLittleEndian(block[2..], dmin);
            for (int j = 0; j < 8; j++)
            {
                var (sc, m) = GgufDequantizer.ScaleMinK4(j, packed);
                float ds = (float)d * sc;
                if (ds == 0) continue; // as ggml: the levels from the search stay
                float dm = (float)dmin * m;
                for (int i = 0; i < 32; i++) levels[32 * j + i] = (byte)Math.Clamp(NearestInt((values[32 * j + i] + dm) / ds), 0, 15);
            }
            var qs = block.Slice(16, 128);
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) qs[32 * j + l] = (byte)(levels[64 * j + l] | (levels[64 * j + l + 32] << 4));
        }
    }

    /// <summary>
    /// ggml's make_qkx2_quants (squared error): levels 0..<paramref name="levelMax"/> of x ~ scale * level - min
    /// minimizing the weighted error, starting from the min-max fit and trying <paramref name="steps"/> + 1
    /// scales around it by weighted least squares. Returns the scale; <paramref name="min"/> is the
    /// (non-negative) offset subtracted.
    /// </summary>
    private static float MakeQkx2Quants(ReadOnlySpan<float> x, int levelMax, ReadOnlySpan<float> weights, Span<byte> levels, out float min,
        Span<byte> scratch, float rmin, float rdelta, int steps)
    {
        int n = x.Length;
        float lo = x[0], hi = x[0], sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < lo) lo = x[i];
            if (x[i] > hi) hi = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (lo > 0) lo = 0;
        if (hi == lo)
        {
            levels.Clear();
            min = -lo;
            return 0f;
        }
        float iscale = levelMax / (hi - lo);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - lo));
            levels[i] = (byte)Math.Max(0, Math.Min(levelMax, l));
            float diff = scale * levels[i] + lo - x[i];
            bestError += weights[i] * (diff * diff);
        }
        for (int step = 0; step <= steps; step++)
        {
            iscale = (rmin + rdelta * step + levelMax) / (hi - lo);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = Math.Max(0, Math.Min(levelMax, NearestInt(iscale * (x[i] - lo))));
                scratch[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det <= 0) continue;
            float thisScale = (sumW * sumXL - sumX * sumL) / det;
            float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
            if (thisMin > 0)
            {
                thisMin = 0;
                thisScale = sumXL / sumL2;
            }
            float error = 0;
            for (int i = 0; i < n; i++)
            {
                float diff = thisScale * scratch[i] + thisMin - x[i];
                error += weights[i] * (diff * diff);
            }
            if (error < bestError)
            {
                scratch[..n].CopyTo(levels);
                bestError = error;
                scale = thisScale;
                lo = thisMin;
            }
        }
        min = -lo;
        return scale;
    }

    /// <summary>Writes d = (value of largest magnitude) / <paramref name="divisor"/> as f16 to the block's start and returns 1 / d (0 when d is 0).</summary>
    private static float SignedMaxScale(ReadOnlySpan<float> values, float divisor, Span<byte> block)
    {
        float amax = 0, max = 0;
        foreach (float v in values)
            if (amax < MathF.Abs(v))
            {
                amax = MathF.Abs(v);
                max = v;
            }
        float d = max / divisor;
        BinaryPrimitives.WriteHalfLittleEndian(block, (Half)d);
        return d != 0 ? 1f / d : 0f;
    }

    /// <summary>min(top, (int8) (scaled + bias)): C's truncating conversion, as ggml.</summary>
    private static int Level(float scaled, float bias, int top) => Math.Min(top, (int)(sbyte)(int)(scaled + bias));

    /// <summary>ggml's nearest_int: round half to even (its 1.5 * 2^23 addition under the default rounding mode).</summary>
    private static int NearestInt(float value) => (int)MathF.Round(value, MidpointRounding.ToEven);

    private static void CheckBlocks(ReadOnlySpan<float> x, Span<byte> output, int block, int bytes, string type)
    {
        if (x.Length % block != 0 || output.Length < x.Length / block * bytes)
            throw new ArgumentException($"{type} quantizes whole blocks of {block} into {bytes} bytes each");
    }
}
