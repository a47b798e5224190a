using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Q4_K or Q5_K: super-blocks of 256 weights as f16 d, f16 dmin, 12 bytes of 6-bit scales and mins for 8
/// sub-blocks of 32, and the quantized weights; weight = d * scale_j * q - dmin * min_j.
/// </summary>
internal unsafe interface IK4Format
{
    static abstract int BlockBytes { get; }
    /// <summary>q (unsigned, &lt; 32) of sub-blocks 2j (<paramref name="low"/>) and 2j + 1 (<paramref name="high"/>).</summary>
    static abstract void Decode(byte* block, int j, out Vector256<byte> low, out Vector256<byte> high);
}

/// <summary>
/// Weight row x activation rows for the K formats against <see cref="Q8Activations"/> in blocks of 256
/// (as ggml's Q8_K): each sub-block's integer sum times its scale in int32 (vpmaddubsw, then vpmaddwd with
/// the scale), converted to float once per super-block; the mins (and Q6_K's -32) come off through the
/// activation's per-16 sums, a few scalar products per super-block. AVX2 (+FMA) only.
/// </summary>
internal static unsafe class KQuantKernels
{
    /// <summary>output[k * stride] = weight row · activation row r0 + k for k &lt; TRows.N (Q4_K / Q5_K).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DotK4<TFormat, TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride)
        where TFormat : IK4Format where TRows : IRowCount
    {
        int blocks = x.N / 256;
        var rows = new Rows<TRows>(x, r0);
        var unpacked = new ScaleMins(); // not stackalloc: a method with localloc is never inlined
        int* scales = (int*)&unpacked, mins = scales + 8;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float min0 = 0, min1 = 0, min2 = 0, min3 = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = w + (long)b * TFormat.BlockBytes;
            UnpackScaleMins(block + 4, scales, mins);
            Vector256<int> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
            long at = (long)b * 256;
            for (int j = 0; j < 4; j++)
            {
                TFormat.Decode(block, j, out var low, out var high);
                var scaleLow = Vector256.Create((short)scales[2 * j]);
                var scaleHigh = Vector256.Create((short)scales[2 * j + 1]);
                long o = at + 64 * j;
                sum0 += Int8Products.ScaledDot(low, Vector256.Load(rows.X0 + o), scaleLow) + Int8Products.ScaledDot(high, Vector256.Load(rows.X0 + o + 32), scaleHigh);
                if (TRows.N > 1)
                {
                    sum1 += Int8Products.ScaledDot(low, Vector256.Load(rows.X1 + o), scaleLow) + Int8Products.ScaledDot(high, Vector256.Load(rows.X1 + o + 32), scaleHigh);
                    sum2 += Int8Products.ScaledDot(low, Vector256.Load(rows.X2 + o), scaleLow) + Int8Products.ScaledDot(high, Vector256.Load(rows.X2 + o + 32), scaleHigh);
                    sum3 += Int8Products.ScaledDot(low, Vector256.Load(rows.X3 + o), scaleLow) + Int8Products.ScaledDot(high, Vector256.Load(rows.X3 + o + 32), scaleHigh);
                }
            }
            float d = Fp16Table.ToFloat(block), dmin = Fp16Table.ToFloat(block + 2);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum0), Vector256.Create(d * rows.D0[b]), acc0);
            min0 += dmin * rows.D0[b] * MinSum(mins, rows.B0 + 16 * b);
            if (TRows.N > 1)
            {
                acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum1), Vector256.Create(d * rows.D1[b]), acc1);
                acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum2), Vector256.Create(d * rows.D2[b]), acc2);
                acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum3), Vector256.Create(d * rows.D3[b]), acc3);
                min1 += dmin * rows.D1[b] * MinSum(mins, rows.B1 + 16 * b);
                min2 += dmin * rows.D2[b] * MinSum(mins, rows.B2 + 16 * b);
                min3 += dmin * rows.D3[b] * MinSum(mins, rows.B3 + 16 * b);
            }
        }
        output[0] = Vector256.Sum(acc0) - min0;
        if (TRows.N > 1)
        {
            output[stride] = Vector256.Sum(acc1) - min1;
            output[2 * stride] = Vector256.Sum(acc2) - min2;
            output[3 * stride] = Vector256.Sum(acc3) - min3;
        }
    }

    /// <summary>
    /// Q6_K: per super-block 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales (one per 16
    /// weights), f16 d; weight = d * scale * (q - 32), the -32 taken off through the activation's per-16 sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void DotQ6_K<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount
    {
        const int blockBytes = 210;
        int blocks = x.N / 256;
        var rows = new Rows<TRows>(x, r0);
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        float zero0 = 0, zero1 = 0, zero2 = 0, zero3 = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = w + (long)b * blockBytes;
            sbyte* scales = (sbyte*)(block + 192);
            Vector256<int> sum0 = default, sum1 = default, sum2 = default, sum3 = default;
            for (int half = 0; half < 2; half++)
            {
                // Weights l, l+32, l+64, l+96 of the half (l < 32): low nibbles of ql[l], ql[l+32], then their
                // high nibbles; bit pairs 0-1, 2-3, 4-5, 6-7 of qh[l] on top.
                byte* ql = block + 64 * half;
                var qh = Vector256.Load(block + 128 + 32 * half);
                var ql0 = Vector256.Load(ql);
                var ql1 = Vector256.Load(ql + 32);
                var q1 = Int8Products.Low(ql0) | Int8Products.Bits(qh, 0, 3, 4);
                var q2 = Int8Products.Low(ql1) | Int8Products.Bits(qh, 2, 3, 4);
                var q3 = Int8Products.High(ql0) | Int8Products.Bits(qh, 4, 3, 4);
                var q4 = Int8Products.High(ql1) | Int8Products.Bits(qh, 6, 3, 4);
                sbyte* sc = scales + 8 * half;
                var sc1 = Int8Products.Scales(sc[0], sc[1]);
                var sc2 = Int8Products.Scales(sc[2], sc[3]);
                var sc3 = Int8Products.Scales(sc[4], sc[5]);
                var sc4 = Int8Products.Scales(sc[6], sc[7]);
                long o = (long)b * 256 + 128 * half;
                sum0 += Q6Half(q1, q2, q3, q4, sc1, sc2, sc3, sc4, rows.X0 + o);
                if (TRows.N > 1)
                {
                    sum1 += Q6Half(q1, q2, q3, q4, sc1, sc2, sc3, sc4, rows.X1 + o);
                    sum2 += Q6Half(q1, q2, q3, q4, sc1, sc2, sc3, sc4, rows.X2 + o);
                    sum3 += Q6Half(q1, q2, q3, q4, sc1, sc2, sc3, sc4, rows.X3 + o);
                }
            }
            float d = Fp16Table.ToFloat(block + 208);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum0), Vector256.Create(d * rows.D0[b]), acc0);
            zero0 += d * rows.D0[b] * ScaleSum(scales, rows.B0 + 16 * b);
            if (TRows.N > 1)
            {
                acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum1), Vector256.Create(d * rows.D1[b]), acc1);
                acc2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum2), Vector256.Create(d * rows.D2[b]), acc2);
                acc3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(sum3), Vector256.Create(d * rows.D3[b]), acc3);
                zero1 += d * rows.D1[b] * ScaleSum(scales, rows.B1 + 16 * b);
                zero2 += d * rows.D2[b] * ScaleSum(scales, rows.B2 + 16 * b);
                zero3 += d * rows.D3[b] * ScaleSum(scales, rows.B3 + 16 * b);
            }
        }
        output[0] = Vector256.Sum(acc0) - 32 * zero0;
        if (TRows.N > 1)
        {
            output[stride] = Vector256.Sum(acc1) - 32 * zero1;
            output[2 * stride] = Vector256.Sum(acc2) - 32 * zero2;
            output[3 * stride] = Vector256.Sum(acc3) - 32 * zero3;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q6Half(Vector256<byte> q1, Vector256<byte> q2, Vector256<byte> q3, Vector256<byte> q4,
        Vector256<short> sc1, Vector256<short> sc2, Vector256<short> sc3, Vector256<short> sc4, sbyte* x) =>
        Int8Products.ScaledDot(q1, Vector256.Load(x), sc1) + Int8Products.ScaledDot(q2, Vector256.Load(x + 32), sc2)
        + Int8Products.ScaledDot(q3, Vector256.Load(x + 64), sc3) + Int8Products.ScaledDot(q4, Vector256.Load(x + 96), sc4);

    /// <summary>The 8 6-bit scales and mins of a Q4_K/Q5_K super-block, as ggml's get_scale_min_k4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UnpackScaleMins(byte* packed, int* scales, int* mins)
    {
        for (int j = 0; j < 4; j++)
        {
            scales[j] = packed[j] & 63;
            mins[j] = packed[j + 4] & 63;
            scales[j + 4] = (packed[j + 8] & 0x0F) | ((packed[j] >> 6) << 4);
            mins[j + 4] = (packed[j + 8] >> 4) | ((packed[j + 4] >> 6) << 4);
        }
    }

    /// <summary>sum_j min_j * (sum of the activation's q over sub-block j).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int MinSum(int* mins, short* bsums)
    {
        int total = 0;
        for (int j = 0; j < 8; j++) total += mins[j] * (bsums[2 * j] + bsums[2 * j + 1]);
        return total;
    }

    /// <summary>sum_g scale_g * (sum of the activation's q over group g of 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ScaleSum(sbyte* scales, short* bsums)
    {
        int total = 0;
        for (int g = 0; g < 16; g++) total += scales[g] * bsums[g];
        return total;
    }

    /// <summary>A super-block's 8 scales then 8 mins.</summary>
    [InlineArray(16)]
    private struct ScaleMins
    {
        private int _first;
    }

    /// <summary>Pointers to up to 4 consecutive activation rows' q, scales and per-16 sums.</summary>
    private readonly ref struct Rows<TRows> where TRows : IRowCount
    {
        public readonly sbyte* X0, X1, X2, X3;
        public readonly float* D0, D1, D2, D3;
        public readonly short* B0, B1, B2, B3;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Rows(in Q8Activations x, int r0)
        {
            X0 = x.Row(r0); D0 = x.Scales(r0); B0 = x.BlockSums(r0);
            if (TRows.N > 1)
            {
                X1 = x.Row(r0 + 1); D1 = x.Scales(r0 + 1); B1 = x.BlockSums(r0 + 1);
                X2 = x.Row(r0 + 2); D2 = x.Scales(r0 + 2); B2 = x.BlockSums(r0 + 2);
                X3 = x.Row(r0 + 3); D3 = x.Scales(r0 + 3); B3 = x.BlockSums(r0 + 3);
            }
        }
    }
}

/// <summary>Q4_K: 128 bytes of nibbles after the 16-byte header; bytes 32j..32j+31 hold sub-block 2j (low nibbles) and 2j + 1 (high).</summary>
internal unsafe struct Q4_KFormat : IK4Format
{
    public static int BlockBytes => 144;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode(byte* block, int j, out Vector256<byte> low, out Vector256<byte> high)
    {
        var q = Vector256.Load(block + 16 + 32 * j);
        low = Int8Products.Low(q);
        high = Int8Products.High(q);
    }
}

/// <summary>Q5_K: as Q4_K with 32 bytes of fifth bits (bit 2j of byte l for sub-block 2j's weight l, 2j + 1 for 2j + 1) before the nibbles.</summary>
internal unsafe struct Q5_KFormat : IK4Format
{
    public static int BlockBytes => 176;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Decode(byte* block, int j, out Vector256<byte> low, out Vector256<byte> high)
    {
        var qh = Vector256.Load(block + 16);
        var q = Vector256.Load(block + 48 + 32 * j);
        low = Int8Products.Low(q) | Int8Products.Bits(qh, 2 * j, 1, 4);
        high = Int8Products.High(q) | Int8Products.Bits(qh, 2 * j + 1, 1, 4);
    }
}
