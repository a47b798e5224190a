using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Cpu;

/// <summary>Vector loops over one row, generic over vector width and the stored dtype.</summary>
internal static unsafe class RowKernels
{
    /// <summary>dst[i] = widen(src[offset + i]) * scale[i] (scale may be null: 1) for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Widen<TVec, TElem>(void* src, long offset, float* dst, int n)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        int i = 0;
        for (; i <= n - TVec.Count; i += TVec.Count) TVec.Store(TElem.Load<TVec>(src, offset + i), dst + i);
        for (; i < n; i++) dst[i] = TElem.Read(src, offset + i);
    }

    /// <summary>
    /// sum_i x[i] * widen(w[offset + i]) for i &lt; n, f32 accumulation; streaming weights from memory
    /// (decode) pass <paramref name="prefetchBytes"/> to prefetch that far ahead of the reads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot<TVec, TElem>(float* x, void* w, long offset, int n, long prefetchBytes = 0)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        TVec a0 = TVec.Zero, a1 = TVec.Zero;
        int i = 0;
        for (; i <= n - 2 * TVec.Count; i += 2 * TVec.Count)
        {
            if (prefetchBytes > 0 && Sse.IsSupported) Sse.Prefetch0((byte*)TElem.Address(w, offset + i) + prefetchBytes);
            a0 = TVec.MultiplyAdd(TVec.LoadF32(x + i), TElem.Load<TVec>(w, offset + i), a0);
            a1 = TVec.MultiplyAdd(TVec.LoadF32(x + i + TVec.Count), TElem.Load<TVec>(w, offset + i + TVec.Count), a1);
        }
        for (; i <= n - TVec.Count; i += TVec.Count)
            a0 = TVec.MultiplyAdd(TVec.LoadF32(x + i), TElem.Load<TVec>(w, offset + i), a0);
        float sum = TVec.Sum(TVec.Add(a0, a1));
        for (; i < n; i++) sum += x[i] * TElem.Read(w, offset + i);
        return sum;
    }

    /// <summary>out[k] = x · widen(w[offset + k * stride ..]) for k &lt; 4 rows of n elements: x loaded once for four rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot4<TVec, TElem>(float* x, void* w, long offset, long stride, int n, float* output)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        long o0 = offset, o1 = o0 + stride, o2 = o1 + stride, o3 = o2 + stride;
        TVec a0 = TVec.Zero, a1 = TVec.Zero, a2 = TVec.Zero, a3 = TVec.Zero;
        int i = 0;
        for (; i <= n - TVec.Count; i += TVec.Count)
        {
            TVec xv = TVec.LoadF32(x + i);
            a0 = TVec.MultiplyAdd(xv, TElem.Load<TVec>(w, o0 + i), a0);
            a1 = TVec.MultiplyAdd(xv, TElem.Load<TVec>(w, o1 + i), a1);
            a2 = TVec.MultiplyAdd(xv, TElem.Load<TVec>(w, o2 + i), a2);
            a3 = TVec.MultiplyAdd(xv, TElem.Load<TVec>(w, o3 + i), a3);
        }
        float s0 = TVec.Sum(a0), s1 = TVec.Sum(a1), s2 = TVec.Sum(a2), s3 = TVec.Sum(a3);
        for (; i < n; i++)
        {
            float xi = x[i];
            s0 += xi * TElem.Read(w, o0 + i);
            s1 += xi * TElem.Read(w, o1 + i);
            s2 += xi * TElem.Read(w, o2 + i);
            s3 += xi * TElem.Read(w, o3 + i);
        }
        output[0] = s0; output[1] = s1; output[2] = s2; output[3] = s3;
    }

    /// <summary>
    /// acc[d] = acc[d] * keep + sum_j weights[j] * widen(v[offset + j * n + d]) for d &lt; n, j &lt; rows: each
    /// vector of acc stays in a register while all rows are added into it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AccumulateRows<TVec, TElem>(float* acc, float keep, float* weights, void* v, long offset, int rows, int n)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        TVec k = TVec.Splat(keep);
        int d = 0;
        // Four vectors of acc at once: four independent multiply-add chains instead of one that waits
        // out the FMA latency at every row (measured 2x on decode attention).
        for (; d <= n - 4 * TVec.Count; d += 4 * TVec.Count)
        {
            TVec a0 = TVec.Multiply(TVec.LoadF32(acc + d), k), a1 = TVec.Multiply(TVec.LoadF32(acc + d + TVec.Count), k);
            TVec a2 = TVec.Multiply(TVec.LoadF32(acc + d + 2 * TVec.Count), k), a3 = TVec.Multiply(TVec.LoadF32(acc + d + 3 * TVec.Count), k);
            for (int j = 0; j < rows; j++)
            {
                long row = offset + (long)j * n + d;
                TVec wj = TVec.Splat(weights[j]);
                a0 = TVec.MultiplyAdd(TElem.Load<TVec>(v, row), wj, a0);
                a1 = TVec.MultiplyAdd(TElem.Load<TVec>(v, row + TVec.Count), wj, a1);
                a2 = TVec.MultiplyAdd(TElem.Load<TVec>(v, row + 2 * TVec.Count), wj, a2);
                a3 = TVec.MultiplyAdd(TElem.Load<TVec>(v, row + 3 * TVec.Count), wj, a3);
            }
            TVec.Store(a0, acc + d); TVec.Store(a1, acc + d + TVec.Count);
            TVec.Store(a2, acc + d + 2 * TVec.Count); TVec.Store(a3, acc + d + 3 * TVec.Count);
        }
        for (; d <= n - TVec.Count; d += TVec.Count)
        {
            TVec a = TVec.Multiply(TVec.LoadF32(acc + d), k);
            for (int j = 0; j < rows; j++)
                a = TVec.MultiplyAdd(TElem.Load<TVec>(v, offset + (long)j * n + d), TVec.Splat(weights[j]), a);
            TVec.Store(a, acc + d);
        }
        for (; d < n; d++)
        {
            float a = acc[d] * keep;
            for (int j = 0; j < rows; j++) a += weights[j] * TElem.Read(v, offset + (long)j * n + d);
            acc[d] = a;
        }
    }
}
