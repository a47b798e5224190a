using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Cpu;

/// <summary>
/// One of the 32-weight block formats (Q8_0, Q4_0, Q5_0): an f16 scale d and 32 quantized weights,
/// weight = d * (q - <see cref="Offset"/>).
/// </summary>
internal unsafe interface IBlock32Format
{
    static abstract int BlockBytes { get; }
    /// <summary>Zero point subtracted from q: 0 for the signed Q8_0, 8 for Q4_0, 16 for Q5_0.</summary>
    static abstract int Offset { get; }
    /// <summary>The block's 32 q in weight order (signed for Q8_0, unsigned otherwise).</summary>
    static abstract Vector256<sbyte> Decode(byte* block);
    /// <summary>sum q * x in groups of 4, for q from <see cref="Decode"/> and 32 activation q.</summary>
    static abstract Vector256<int> Product(Vector256<sbyte> q, Vector256<sbyte> x);
}

/// <summary>
/// Weight row x activation rows for the 32-weight formats against <see cref="Q8Activations"/> in blocks
/// of 32: per block an integer dot product, converted to float and scaled by d_w * d_x; the zero point
/// comes off at the end as Offset * sum_b d_w * (d_x * sum q_x). AVX2 (+FMA) only.
/// </summary>
internal static unsafe class Block32Kernels
{
    /// <summary>
    /// output[k * stride] = weight row · activation row r0 + k for k &lt; TRows.N: each weight block is
    /// decoded once for all of them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot<TFormat, TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride)
        where TFormat : IBlock32Format where TRows : IRowCount
    {
        int blocks = x.N / 32;
        sbyte* x0 = x.Row(r0), x1 = null, x2 = null, x3 = null;
        float* d0 = x.Scales(r0), d1 = null, d2 = null, d3 = null;
        float* s0 = x.Sums(r0), s1 = null, s2 = null, s3 = null;
        if (TRows.N > 1)
        {
            x1 = x.Row(r0 + 1); x2 = x.Row(r0 + 2); x3 = x.Row(r0 + 3);
            d1 = x.Scales(r0 + 1); d2 = x.Scales(r0 + 2); d3 = x.Scales(r0 + 3);
            s1 = x.Sums(r0 + 1); s2 = x.Sums(r0 + 2); s3 = x.Sums(r0 + 3);
        }
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float zero0 = 0, zero1 = 0, zero2 = 0, zero3 = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = w + (long)b * TFormat.BlockBytes;
            float dw = Fp16Table.ToFloat(block);
            var q = TFormat.Decode(block);
            long at = (long)b * 32;
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TFormat.Product(q, Vector256.Load(x0 + at))), Vector256.Create(dw * d0[b]), acc0);
            if (TFormat.Offset != 0) zero0 += dw * s0[b];
            if (TRows.N > 1)
            {
                acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TFormat.Product(q, Vector256.Load(x1 + at))), Vector256.Create(dw * d1[b]), acc1);
                acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TFormat.Product(q, Vector256.Load(x2 + at))), Vector256.Create(dw * d2[b]), acc2);
                acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(TFormat.Product(q, Vector256.Load(x3 + at))), Vector256.Create(dw * d3[b]), acc3);
                if (TFormat.Offset != 0)
                {
                    zero1 += dw * s1[b];
                    zero2 += dw * s2[b];
                    zero3 += dw * s3[b];
                }
            }
        }
        output[0] = Vector256.Sum(acc0) - TFormat.Offset * zero0;
        if (TRows.N > 1)
        {
            output[stride] = Vector256.Sum(acc1) - TFormat.Offset * zero1;
            output[2 * stride] = Vector256.Sum(acc2) - TFormat.Offset * zero2;
            output[3 * stride] = Vector256.Sum(acc3) - TFormat.Offset * zero3;
        }
    }
}

/// <summary>Q8_0: f16 d, 32 int8 q; weight = d * q. Signed x signed through |q| and x with q's sign (vpsignb), as ggml does.</summary>
internal unsafe struct Q8_0Format : IBlock32Format
{
    public static int BlockBytes => 34;
    public static int Offset => 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode(byte* block) => Vector256.Load((sbyte*)(block + 2));

    /// <summary>|q| &lt;= 128 and |x| &lt;= 127 keep vpmaddubsw's pairs below 32767.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Product(Vector256<sbyte> q, Vector256<sbyte> x) =>
        Int8Products.Dot(Avx2.Abs(q), Avx2.Sign(x, q));
}

/// <summary>Q4_0: f16 d, 16 bytes of nibbles (low: weights 0-15, high: 16-31); weight = d * (q - 8).</summary>
internal unsafe struct Q4_0Format : IBlock32Format
{
    public static int BlockBytes => 18;
    public static int Offset => 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode(byte* block) => Int8Products.Nibbles16(block + 2).AsSByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Product(Vector256<sbyte> q, Vector256<sbyte> x) => Int8Products.Dot(q.AsByte(), x);
}

/// <summary>Q5_0: f16 d, 32 high bits (bit i for weight i), nibbles as Q4_0; weight = d * (q - 16).</summary>
internal unsafe struct Q5_0Format : IBlock32Format
{
    public static int BlockBytes => 22;
    public static int Offset => 16;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Decode(byte* block)
    {
        // Each byte picks the qh byte holding its bit (vpshufb within 128-bit lanes: bytes 0-1 for weights 0-15, 2-3 for 16-31), then tests it.
        var qh = Vector256.Create(*(uint*)(block + 2)).AsByte();
        var spread = Avx2.Shuffle(qh, Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        var bits = Vector256.Create(0x8040201008040201UL).AsByte();
        var high = Vector256.Equals(spread & bits, bits) & Vector256.Create((byte)0x10);
        return (Int8Products.Nibbles16(block + 6) | high).AsSByte();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Product(Vector256<sbyte> q, Vector256<sbyte> x) => Int8Products.Dot(q.AsByte(), x);
}
