using System.Runtime.CompilerServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Vector math the kernels need beyond arithmetic. TensorPrimitives.Exp measured about 13 ns per element
/// on 16-float spans here (an attention block's scores), more than the block's dot products; this one is
/// a handful of fused multiply-adds.
/// </summary>
internal static class SimdMath
{
    // exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for exactness), and
    // exp(r) on |r| <= ln2/2 by Cephes' expf polynomial: about 1 ulp. Rounding by adding 1.5 * 2^23
    // leaves n in the low mantissa bits, from where Pow2OfLowBits builds 2^n.
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2High = 0.693359375f;
    private const float Ln2Low = -2.12194440e-4f;
    private const float RoundingMagic = 12582912f; // 1.5 * 2^23
    /// <summary>Below this exp would be subnormal: inputs are clamped to it (exp = 1.2e-38, not 0).</summary>
    private const float Lowest = -87.33f;

    /// <summary>e^x for x &lt;= 0 (softmax after subtracting the maximum), relative error about 1e-7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec ExpNonPositive<TVec>(TVec x) where TVec : unmanaged, ISimdFloat<TVec>
    {
        x = TVec.Max(x, TVec.Splat(Lowest));
        TVec rounded = TVec.MultiplyAdd(x, TVec.Splat(Log2E), TVec.Splat(RoundingMagic));
        TVec n = TVec.Add(rounded, TVec.Splat(-RoundingMagic));
        TVec r = TVec.MultiplyAdd(n, TVec.Splat(-Ln2High), x);
        r = TVec.MultiplyAdd(n, TVec.Splat(-Ln2Low), r);
        TVec p = TVec.Splat(1.9875691500e-4f);
        p = TVec.MultiplyAdd(p, r, TVec.Splat(1.3981999507e-3f));
        p = TVec.MultiplyAdd(p, r, TVec.Splat(8.3334519073e-3f));
        p = TVec.MultiplyAdd(p, r, TVec.Splat(4.1665795894e-2f));
        p = TVec.MultiplyAdd(p, r, TVec.Splat(1.6666665459e-1f));
        p = TVec.MultiplyAdd(p, r, TVec.Splat(5.0000001201e-1f));
        TVec expR = TVec.Add(TVec.MultiplyAdd(p, TVec.Multiply(r, r), r), TVec.Splat(1f));
        return TVec.Multiply(expR, TVec.Pow2OfLowBits(rounded));
    }

    /// <summary>The largest of values[0..n) and <paramref name="floor"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float Max<TVec>(float* values, int n, float floor) where TVec : unmanaged, ISimdFloat<TVec>
    {
        TVec max = TVec.Splat(floor);
        int j = 0;
        for (; j <= n - TVec.Count; j += TVec.Count) max = TVec.Max(max, TVec.LoadF32(values + j));
        float* lanes = stackalloc float[TVec.Count];
        TVec.Store(max, lanes);
        float result = floor;
        for (int i = 0; i < TVec.Count; i++) result = MathF.Max(result, lanes[i]);
        for (; j < n; j++) result = MathF.Max(result, values[j]);
        return result;
    }

    /// <summary>
    /// values[j] = e^(values[j] - max) for j &lt; n (every values[j] &lt;= max), returning their sum: the
    /// numerator and denominator of a softmax block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float ExpShiftedAndSum<TVec>(float* values, int n, float max) where TVec : unmanaged, ISimdFloat<TVec>
    {
        TVec shift = TVec.Splat(-max), sum = TVec.Zero;
        int j = 0;
        for (; j <= n - TVec.Count; j += TVec.Count)
        {
            TVec e = ExpNonPositive(TVec.Add(TVec.LoadF32(values + j), shift));
            TVec.Store(e, values + j);
            sum = TVec.Add(sum, e);
        }
        float total = TVec.Sum(sum);
        for (; j < n; j++) total += values[j] = MathF.Exp(values[j] - max);
        return total;
    }
}
