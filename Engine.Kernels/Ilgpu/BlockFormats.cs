using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Eight consecutive weights of a quantized block, decoded in registers: weight i = Scale * q_i - Offset with
/// q_i a signed byte (Low holds q_0..q_3, lowest byte first; High q_4..q_7). The one form every block type
/// decodes to, so the float kernels and the dp4a kernel share each type's decoder. For the types without mins
/// Offset is 0 and Scale * q is ggml's dequantized value bit for bit (for Q4_K / Q5_K too: d*sc * q - dmin*m).
/// </summary>
public struct QuantGroup
{
    public uint Low, High;
    public float Scale, Offset;

    public QuantGroup(uint low, uint high, float scale, float offset)
    {
        Low = low; High = high; Scale = scale; Offset = offset;
    }

    /// <summary>Weight i of the group (i in 0..7), as ggml's dequantizer computes it.</summary>
    public readonly float Value(int i) => Scale * (sbyte)((i < 4 ? Low : High) >> (8 * (i & 3))) - Offset;

    /// <summary>sum_i weight_i * x[at + i] with F32 accumulation (Scale and Offset applied once per group).</summary>
    public readonly float Dot(ArrayView<float> x, long at)
    {
        float x0 = x[at], x1 = x[at + 1], x2 = x[at + 2], x3 = x[at + 3], x4 = x[at + 4], x5 = x[at + 5], x6 = x[at + 6], x7 = x[at + 7];
        float products = (sbyte)Low * x0 + (sbyte)(Low >> 8) * x1 + (sbyte)(Low >> 16) * x2 + (sbyte)(Low >> 24) * x3
                       + (sbyte)High * x4 + (sbyte)(High >> 8) * x5 + (sbyte)(High >> 16) * x6 + (sbyte)(High >> 24) * x7;
        return Scale * products - Offset * (x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7);
    }

    /// <summary>Writes the eight weights to y[at], y[at + stride], ... (stride 1: a row; TileN + 1: a column of a shared tile).</summary>
    public readonly void Write(ArrayView<float> y, long at, long stride)
    {
        for (int i = 0; i < 8; i++) y[at + i * stride] = Value(i);
    }
}

/// <summary>
/// A ggml block type as the kernels read it: blocks are addressed in halfwords (every block size and field
/// offset is even, so a ushort view of the weights is aligned for every type) and decoded eight weights at a
/// time. Kernels are generic over the struct, so the calls resolve statically.
/// </summary>
public interface IBlockFormat
{
    /// <summary>Weights per block (32, or 256 for the K types).</summary>
    int BlockElements { get; }
    /// <summary>Bytes per block / 2.</summary>
    int BlockHalfwords { get; }
    /// <summary>Whether blocks have mins (Offset != 0): the int8 product then also needs the sum of x.</summary>
    bool HasOffset { get; }
    /// <summary>Weights [8 * group, 8 * group + 8) of the block starting at halfword <paramref name="block"/>.</summary>
    QuantGroup Decode(ArrayView<ushort> weights, long block, int group);
}

/// <summary>Bit helpers for the block decoders.</summary>
public static class BlockBits
{
    /// <summary>The four bytes starting at halfword h, little-endian.</summary>
    public static uint Word(ArrayView<ushort> w, long h) => w[h] | ((uint)w[h + 1] << 16);

    /// <summary>The byte at <paramref name="offset"/> bytes into the block starting at halfword <paramref name="block"/>.</summary>
    public static uint Byte(ArrayView<ushort> w, long block, int offset) => ((uint)w[block + (offset >> 1)] >> (8 * (offset & 1))) & 0xFFu;

    public static float Half(ArrayView<ushort> w, long h) => HalfBits.ToFloat(w[h]);

    /// <summary>Per byte, q - bias as a signed byte (each q + 128 - bias stays within 0..255, so no byte carries into the next).</summary>
    public static uint Signed(uint bytes, uint bias) => (bytes + (0x80u - bias) * 0x0101_0101u) ^ 0x8080_8080u;

    /// <summary>Bits 0..3 of <paramref name="bits"/> to bit 0 of bytes 0..3 (bit i moves 7i places by the i-th term; no terms collide).</summary>
    public static uint Spread4(uint bits) => ((bits & 0xFu) * 0x0020_4081u) & 0x0101_0101u;

    /// <summary>
    /// The 6-bit scale and min of sub-block <paramref name="sub"/> (0..7) of a Q4_K / Q5_K block, from its 12
    /// scale bytes at byte 4 (the layout of GgufDequantizer.ScaleMinK4).
    /// </summary>
    public static (uint Scale, uint Min) ScaleMinK4(ArrayView<ushort> w, long block, int sub)
    {
        if (sub < 4) return (Byte(w, block, 4 + sub) & 63u, Byte(w, block, 8 + sub) & 63u);
        uint packed = Byte(w, block, 8 + sub);
        return ((packed & 0xFu) | ((Byte(w, block, sub) >> 6) << 4), (packed >> 4) | ((Byte(w, block, 4 + sub) >> 6) << 4));
    }
}

/// <summary>Q8_0: f16 d, 32 int8 q; weight = d * q.</summary>
public readonly struct Q8_0Block : IBlockFormat
{
    public int BlockElements => 32;
    public int BlockHalfwords => 17;
    public bool HasOffset => false;
    public QuantGroup Decode(ArrayView<ushort> w, long block, int group)
    {
        long h = block + 1 + 4 * group;
        return new QuantGroup(BlockBits.Word(w, h), BlockBits.Word(w, h + 2), BlockBits.Half(w, block), 0f);
    }
}

/// <summary>Q4_0: f16 d, 16 bytes of nibbles (weights 0-15 low nibbles, 16-31 high); weight = d * (q - 8).</summary>
public readonly struct Q4_0Block : IBlockFormat
{
    public int BlockElements => 32;
    public int BlockHalfwords => 9;
    public bool HasOffset => false;
    public QuantGroup Decode(ArrayView<ushort> w, long block, int group)
    {
        long h = block + 1 + 4 * (group & 1);
        int shift = 4 * (group >> 1);
        uint low = (BlockBits.Word(w, h) >> shift) & 0x0F0F_0F0Fu, high = (BlockBits.Word(w, h + 2) >> shift) & 0x0F0F_0F0Fu;
        return new QuantGroup(BlockBits.Signed(low, 8), BlockBits.Signed(high, 8), BlockBits.Half(w, block), 0f);
    }
}

/// <summary>Q5_0: f16 d, 32 high bits (bit j for weight j), nibbles as Q4_0; weight = d * (q - 16).</summary>
public readonly struct Q5_0Block : IBlockFormat
{
    public int BlockElements => 32;
    public int BlockHalfwords => 11;
    public bool HasOffset => false;
    public QuantGroup Decode(ArrayView<ushort> w, long block, int group)
    {
        uint highBits = (BlockBits.Word(w, block + 1) >> (8 * group)) & 0xFFu;
        long h = block + 3 + 4 * (group & 1);
        int shift = 4 * (group >> 1);
        uint low = ((BlockBits.Word(w, h) >> shift) & 0x0F0F_0F0Fu) | (BlockBits.Spread4(highBits) << 4);
        uint high = ((BlockBits.Word(w, h + 2) >> shift) & 0x0F0F_0F0Fu) | (BlockBits.Spread4(highBits >> 4) << 4);
        return new QuantGroup(BlockBits.Signed(low, 16), BlockBits.Signed(high, 16), BlockBits.Half(w, block), 0f);
    }
}

/// <summary>
/// Q4_K: f16 d, f16 dmin, 12 scale bytes, 128 bytes of nibbles. Each 64 weights share 32 bytes: sub-block 2j
/// the low nibbles, 2j+1 the high ones; weight = d*sc * q - dmin*m.
/// </summary>
public readonly struct Q4_KBlock : IBlockFormat
{
    public int BlockElements => 256;
    public int BlockHalfwords => 72;
    public bool HasOffset => true;
    public QuantGroup Decode(ArrayView<ushort> w, long block, int group)
    {
        int chunk = group >> 3, within = group & 7;
        int sub = 2 * chunk + (within >> 2);
        long h = block + 8 + 16 * chunk + 4 * (within & 3);
        int shift = 4 * (within >> 2);
        var (scale, min) = BlockBits.ScaleMinK4(w, block, sub);
        return new QuantGroup((BlockBits.Word(w, h) >> shift) & 0x0F0F_0F0Fu, (BlockBits.Word(w, h + 2) >> shift) & 0x0F0F_0F0Fu,
            BlockBits.Half(w, block) * scale, BlockBits.Half(w, block + 1) * min);
    }
}

/// <summary>Q5_K: Q4_K with 32 bytes of fifth bits after the scales (bit s of byte l for position l of sub-block s).</summary>
public readonly struct Q5_KBlock : IBlockFormat
{
    public int BlockElements => 256;
    public int BlockHalfwords => 88;
    public bool HasOffset => true;
    public QuantGroup Decode(ArrayView<ushort> w, long block, int group)
    {
        int chunk = group >> 3, within = group & 7;
        int sub = 2 * chunk + (within >> 2);
        long hHigh = block + 8 + 4 * (within & 3);
        long h = block + 24 + 16 * chunk + 4 * (within & 3);
        int shift = 4 * (within >> 2);
        uint low = ((BlockBits.Word(w, h) >> shift) & 0x0F0F_0F0Fu) | (((BlockBits.Word(w, hHigh) >> sub) & 0x0101_0101u) << 4);
        uint high = ((BlockBits.Word(w, h + 2) >> shift) & 0x0F0F_0F0Fu) | (((BlockBits.Word(w, hHigh + 2) >> sub) & 0x0101_0101u) << 4);
        var (scale, min) = BlockBits.ScaleMinK4(w, block, sub);
        return new QuantGroup(low, high, BlockBits.Half(w, block) * scale, BlockBits.Half(w, block + 1) * min);
    }
}

/// <summary>
/// Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit high pairs, 16 int8 scales, f16 d. Each half of 128
/// weights takes 64 low bytes and 32 high bytes; its quarter k (32 weights) takes nibble k / 2 of low bytes
/// 32 * (k % 2) + l and bits 2k, 2k+1 of high byte l; weight = d * sc * (q - 32).
/// </summary>
public readonly struct Q6_KBlock : IBlockFormat
{
    public int BlockElements => 256;
    public int BlockHalfwords => 105;
    public bool HasOffset => false;
    public QuantGroup Decode(ArrayView<ushort> w, long block, int group)
    {
        int half = group >> 4, quarter = (group >> 2) & 3, run = group & 3; // run: which 8 of the quarter's 32
        long hLow = block + 32 * half + 16 * (quarter & 1) + 4 * run;
        long hHigh = block + 64 + 16 * half + 4 * run;
        int lowShift = 4 * (quarter >> 1), highShift = 2 * quarter;
        uint low = ((BlockBits.Word(w, hLow) >> lowShift) & 0x0F0F_0F0Fu) | (((BlockBits.Word(w, hHigh) >> highShift) & 0x0303_0303u) << 4);
        uint high = ((BlockBits.Word(w, hLow + 2) >> lowShift) & 0x0F0F_0F0Fu) | (((BlockBits.Word(w, hHigh + 2) >> highShift) & 0x0303_0303u) << 4);
        float scale = BlockBits.Half(w, block + 104) * (sbyte)BlockBits.Byte(w, block, 192 + 8 * half + (run >> 1) + 2 * quarter);
        return new QuantGroup(BlockBits.Signed(low, 32), BlockBits.Signed(high, 32), scale, 0f);
    }
}
