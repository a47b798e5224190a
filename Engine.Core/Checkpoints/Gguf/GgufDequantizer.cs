using System.Buffers.Binary;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// Widens GGUF tensor data to float32 exactly as ggml's reference <c>dequantize_row_*</c> functions do
/// (same float operations in the same order, so the results are equal bit for bit), for F32, F16,
/// BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K and Q6_K. Any other type is an <see cref="EngineException"/> naming it.
/// </summary>
public static class GgufDequantizer
{
    /// <summary>
    /// Dequantizes <paramref name="destination"/>.Length elements (a whole number of blocks) from the
    /// start of <paramref name="source"/>; <paramref name="what"/> names the tensor in errors.
    /// </summary>
    public static void Dequantize(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination, string what)
    {
        var (blockElements, blockBytes) = GgmlTypes.Layout(type) ?? throw Unsupported(type, what);
        if (destination.Length % blockElements != 0)
            throw new ArgumentException($"{destination.Length} elements is not a whole number of {type} blocks", nameof(destination));
        int blocks = destination.Length / blockElements;
        if (source.Length < (long)blocks * blockBytes) throw new ArgumentException("source is shorter than the blocks asked for", nameof(source));
        for (int b = 0; b < blocks; b++)
        {
            var block = source.Slice(b * blockBytes, blockBytes);
            var output = destination.Slice(b * blockElements, blockElements);
            switch (type)
            {
                case GgmlType.F32: output[0] = BinaryPrimitives.ReadSingleLittleEndian(block); break;
                case GgmlType.F16: output[0] = (float)BinaryPrimitives.ReadHalfLittleEndian(block); break;
                case GgmlType.BF16: output[0] = BFloat16.ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(block)); break;
                case GgmlType.Q8_0: Q8_0(block, output); break;
                case GgmlType.Q4_0: Q4_0(block, output); break;
                case GgmlType.Q5_0: Q5_0(block, output); break;
                case GgmlType.Q4_K: Q4_K(block, output); break;
                case GgmlType.Q5_K: Q5_K(block, output); break;
                case GgmlType.Q6_K: Q6_K(block, output); break;
                default: throw Unsupported(type, what);
            }
        }
    }

    public static EngineException Unsupported(GgmlType type, string what) =>
        new($"{what} has tensor type {GgmlTypes.Name(type)}, which the engine does not support; supported: {GgmlTypes.SupportedList}");

    private static float Half(ReadOnlySpan<byte> bytes) => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes);

    /// <summary>Q8_0: f16 scale d, 32 int8 values; x = d * q.</summary>
    private static void Q8_0(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block);
        for (int j = 0; j < 32; j++) y[j] = (sbyte)block[2 + j] * d;
    }

    /// <summary>Q4_0: f16 scale d, 16 bytes of nibbles (low nibbles are elements 0..15, high 16..31); x = (q - 8) * d.</summary>
    private static void Q4_0(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block);
        for (int j = 0; j < 16; j++)
        {
            byte q = block[2 + j];
            y[j] = ((q & 0x0F) - 8) * d;
            y[j + 16] = ((q >> 4) - 8) * d;
        }
    }

    /// <summary>
    /// Q5_0: f16 scale d, 32 high bits (little-endian u32: bit j for element j), 16 bytes of nibbles as Q4_0's;
    /// x = (q - 16) * d with q = nibble + 16 * high bit.
    /// </summary>
    private static void Q5_0(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block);
        uint qh = BinaryPrimitives.ReadUInt32LittleEndian(block[2..]);
        for (int j = 0; j < 16; j++)
        {
            byte q = block[6 + j];
            int high0 = (int)((qh >> j) << 4) & 0x10, high1 = (int)(qh >> (j + 12)) & 0x10;
            y[j] = (((q & 0x0F) | high0) - 16) * d;
            y[j + 16] = (((q >> 4) | high1) - 16) * d;
        }
    }

    /// <summary>
    /// The 6-bit scale and min of sub-block <paramref name="j"/> (0..7) from the 12 packed bytes of a
    /// Q4_K / Q5_K super-block: sub-blocks 0-3 in the low 6 bits of bytes 0-3 / 4-7, sub-blocks 4-7
    /// in the nibbles of bytes 8-11 with their top 2 bits in the high bits of bytes 0-7.
    /// </summary>
    internal static (int Scale, int Min) ScaleMinK4(int j, ReadOnlySpan<byte> scales) => j < 4
        ? (scales[j] & 63, scales[j + 4] & 63)
        : ((scales[j + 4] & 0x0F) | ((scales[j - 4] >> 6) << 4), (scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));

    /// <summary>Q4_K: f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles; 8 sub-blocks of 32: x = d*sc * q - dmin*m.</summary>
    private static void Q4_K(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block), min = Half(block[2..]);
        var scales = block.Slice(4, 12);
        var qs = block.Slice(16, 128);
        for (int j = 0, o = 0; j < 4; j++)
        {
            var (sc1, m1) = ScaleMinK4(2 * j, scales);
            var (sc2, m2) = ScaleMinK4(2 * j + 1, scales);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            var q = qs.Slice(32 * j, 32);
            for (int l = 0; l < 32; l++) y[o++] = d1 * (q[l] & 0x0F) - min1;
            for (int l = 0; l < 32; l++) y[o++] = d2 * (q[l] >> 4) - min2;
        }
    }

    /// <summary>Q5_K: as Q4_K with a fifth bit per element from 32 high-bit bytes (bit 2j / 2j+1 for sub-blocks 2j / 2j+1).</summary>
    private static void Q5_K(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block), min = Half(block[2..]);
        var scales = block.Slice(4, 12);
        var qh = block.Slice(16, 32);
        var qs = block.Slice(48, 128);
        for (int j = 0, o = 0; j < 4; j++)
        {
            var (sc1, m1) = ScaleMinK4(2 * j, scales);
            var (sc2, m2) = ScaleMinK4(2 * j + 1, scales);
            float d1 = d * sc1, min1 = min * m1, d2 = d * sc2, min2 = min * m2;
            int u1 = 1 << (2 * j), u2 = 2 << (2 * j);
            var q = qs.Slice(32 * j, 32);
            for (int l = 0; l < 32; l++) y[o++] = d1 * ((q[l] & 0x0F) + ((qh[l] & u1) != 0 ? 16 : 0)) - min1;
            for (int l = 0; l < 32; l++) y[o++] = d2 * ((q[l] >> 4) + ((qh[l] & u2) != 0 ? 16 : 0)) - min2;
        }
    }

    /// <summary>
    /// Q6_K: 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, f16 d; each half
    /// of 128 elements takes 64 low bytes and 32 high bytes; x = d * scale * (q - 32).
    /// </summary>
    private static void Q6_K(ReadOnlySpan<byte> block, Span<float> y)
    {
        float d = Half(block[208..]);
        for (int half = 0; half < 2; half++)
        {
            var ql = block.Slice(64 * half, 64);
            var qh = block.Slice(128 + 32 * half, 32);
            var sc = block.Slice(192 + 8 * half, 8);
            var output = y.Slice(128 * half, 128);
            for (int l = 0; l < 32; l++)
            {
                int s = l / 16;
                int q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                output[l] = d * (sbyte)sc[s] * q1;
                output[l + 32] = d * (sbyte)sc[s + 2] * q2;
                output[l + 64] = d * (sbyte)sc[s + 4] * q3;
                output[l + 96] = d * (sbyte)sc[s + 6] * q4;
            }
        }
    }
}
