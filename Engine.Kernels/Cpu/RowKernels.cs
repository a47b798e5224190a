using System.Runtime.CompilerServices;

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

    /// <summary>sum_i x[i] * widen(w[offset + i]) for i &lt; n, f32 accumulation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot<TVec, TElem>(float* x, void* w, long offset, int n)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        TVec a0 = TVec.Zero, a1 = TVec.Zero;
        int i = 0;
        for (; i <= n - 2 * TVec.Count; i += 2 * TVec.Count)
        {
            a0 = TVec.MultiplyAdd(TVec.LoadF32(x + i), TElem.Load<TVec>(w, offset + i), a0);
            a1 = TVec.MultiplyAdd(TVec.LoadF32(x + i + TVec.Count), TElem.Load<TVec>(w, offset + i + TVec.Count), a1);
        }
        for (; i <= n - TVec.Count; i += TVec.Count)
            a0 = TVec.MultiplyAdd(TVec.LoadF32(x + i), TElem.Load<TVec>(w, offset + i), a0);
        float sum = TVec.Sum(TVec.Add(a0, a1));
        for (; i < n; i++) sum += x[i] * TElem.Read(w, offset + i);
        return sum;
    }

    /// <summary>acc[i] = acc[i] * keep + a * widen(v[offset + i]) for i &lt; n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScaleAdd<TVec, TElem>(float* acc, float keep, float a, void* v, long offset, int n)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        TVec k = TVec.Splat(keep), s = TVec.Splat(a);
        int i = 0;
        for (; i <= n - TVec.Count; i += TVec.Count)
            TVec.Store(TVec.MultiplyAdd(TElem.Load<TVec>(v, offset + i), s, TVec.Multiply(TVec.LoadF32(acc + i), k)), acc + i);
        for (; i < n; i++) acc[i] = acc[i] * keep + a * TElem.Read(v, offset + i);
    }
}
