using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Register-blocked dot-product micro-kernels of the linear layer (weight rows are HF [outDim, inDim], so
/// every output is a dot product of an x row and a weight row). Each weight vector is widened once in
/// registers and used against every x row of the tile; each x vector against every weight row.
/// </summary>
internal static unsafe class LinearKernels
{

    /// <summary>
    /// How far ahead of the read position decode prefetches its weight stream. Decode reads each thread's
    /// rows as one sequential stream; a software prefetch 8 KiB ahead (crossing the 4 KiB pages where the
    /// hardware prefetchers stop) measured 5-20% faster than none (by the hour), alternating in one process on the
    /// Qwen2.5-0.5B bf16 sweep. Shorter distances (1-4 KiB) gained less, 12-16 KiB no more.
    /// </summary>
    public const long PrefetchBytes = 8 << 10;

    /// <summary>
    /// Prefill: output[r * outDim + row0 + k] = x[r] · w[row0 + k] for r, k &lt; 4: 16 accumulators, 4 x
    /// loads and 4 widened weight loads per 16 fused multiply-adds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Rows4x4<TVec, TElem>(float* x, void* w, long row0, int inDim, float* output, int outDim)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        float* x0 = x, x1 = x + inDim, x2 = x1 + inDim, x3 = x2 + inDim;
        long o0 = row0 * inDim, o1 = o0 + inDim, o2 = o1 + inDim, o3 = o2 + inDim;
        TVec c00 = TVec.Zero, c01 = TVec.Zero, c02 = TVec.Zero, c03 = TVec.Zero;
        TVec c10 = TVec.Zero, c11 = TVec.Zero, c12 = TVec.Zero, c13 = TVec.Zero;
        TVec c20 = TVec.Zero, c21 = TVec.Zero, c22 = TVec.Zero, c23 = TVec.Zero;
        TVec c30 = TVec.Zero, c31 = TVec.Zero, c32 = TVec.Zero, c33 = TVec.Zero;
        int i = 0;
        for (; i <= inDim - TVec.Count; i += TVec.Count)
        {
            TVec w0 = TElem.Load<TVec>(w, o0 + i), w1 = TElem.Load<TVec>(w, o1 + i);
            TVec w2 = TElem.Load<TVec>(w, o2 + i), w3 = TElem.Load<TVec>(w, o3 + i);
            TVec xv = TVec.LoadF32(x0 + i);
            c00 = TVec.MultiplyAdd(xv, w0, c00); c01 = TVec.MultiplyAdd(xv, w1, c01);
            c02 = TVec.MultiplyAdd(xv, w2, c02); c03 = TVec.MultiplyAdd(xv, w3, c03);
            xv = TVec.LoadF32(x1 + i);
            c10 = TVec.MultiplyAdd(xv, w0, c10); c11 = TVec.MultiplyAdd(xv, w1, c11);
            c12 = TVec.MultiplyAdd(xv, w2, c12); c13 = TVec.MultiplyAdd(xv, w3, c13);
            xv = TVec.LoadF32(x2 + i);
            c20 = TVec.MultiplyAdd(xv, w0, c20); c21 = TVec.MultiplyAdd(xv, w1, c21);
            c22 = TVec.MultiplyAdd(xv, w2, c22); c23 = TVec.MultiplyAdd(xv, w3, c23);
            xv = TVec.LoadF32(x3 + i);
            c30 = TVec.MultiplyAdd(xv, w0, c30); c31 = TVec.MultiplyAdd(xv, w1, c31);
            c32 = TVec.MultiplyAdd(xv, w2, c32); c33 = TVec.MultiplyAdd(xv, w3, c33);
        }
        float* r0 = output + row0, r1 = r0 + outDim, r2 = r1 + outDim, r3 = r2 + outDim;
        r0[0] = TVec.Sum(c00); r0[1] = TVec.Sum(c01); r0[2] = TVec.Sum(c02); r0[3] = TVec.Sum(c03);
        r1[0] = TVec.Sum(c10); r1[1] = TVec.Sum(c11); r1[2] = TVec.Sum(c12); r1[3] = TVec.Sum(c13);
        r2[0] = TVec.Sum(c20); r2[1] = TVec.Sum(c21); r2[2] = TVec.Sum(c22); r2[3] = TVec.Sum(c23);
        r3[0] = TVec.Sum(c30); r3[1] = TVec.Sum(c31); r3[2] = TVec.Sum(c32); r3[3] = TVec.Sum(c33);
        for (; i < inDim; i++)
        {
            float w0 = TElem.Read(w, o0 + i), w1 = TElem.Read(w, o1 + i), w2 = TElem.Read(w, o2 + i), w3 = TElem.Read(w, o3 + i);
            float xa = x0[i], xb = x1[i], xc = x2[i], xd = x3[i];
            r0[0] += xa * w0; r0[1] += xa * w1; r0[2] += xa * w2; r0[3] += xa * w3;
            r1[0] += xb * w0; r1[1] += xb * w1; r1[2] += xb * w2; r1[3] += xb * w3;
            r2[0] += xc * w0; r2[1] += xc * w1; r2[2] += xc * w2; r2[3] += xc * w3;
            r3[0] += xd * w0; r3[1] += xd * w1; r3[2] += xd * w2; r3[3] += xd * w3;
        }
    }

    /// <summary>
    /// x split per block of 2 * Count elements into [even-indexed | odd-indexed] halves, matching what
    /// <see cref="ISimdFloat{TSelf}.LoadBf16Pairs"/> makes of a weight block. Covers inDim rounded down to whole blocks.
    /// </summary>
    public static void SplitEvenOdd<TVec>(float* x, int inDim, float* split) where TVec : unmanaged, ISimdFloat<TVec>
    {
        int step = 2 * TVec.Count, blocks = inDim / step;
        for (int b = 0; b < blocks; b++)
            for (int k = 0; k < TVec.Count; k++)
            {
                split[b * step + k] = x[b * step + 2 * k];
                split[b * step + TVec.Count + k] = x[b * step + 2 * k + 1];
            }
    }

    /// <summary>
    /// Decode over bf16 weights: x · w[..n] for one row, each 2 * Count-element block read with one plain
    /// load split into even and odd lanes (no widening shuffle) against the pre-split x, prefetching
    /// <see cref="PrefetchBytes"/> ahead. One row at a time keeps a thread's reads a single sequential
    /// stream, which DRAM serves faster than four interleaved rows (measured 20-35% on the decode sweep).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float StreamRowBf16<TVec>(float* x, float* xSplit, ushort* w, int n)
        where TVec : unmanaged, ISimdFloat<TVec>
    {
        TVec a0 = TVec.Zero, a1 = TVec.Zero, a2 = TVec.Zero, a3 = TVec.Zero;
        int step = 2 * TVec.Count, i = 0;
        for (; i <= n - 2 * step; i += 2 * step)
        {
            if (Sse.IsSupported)
            {
                Sse.Prefetch0((byte*)(w + i) + PrefetchBytes);
                Sse.Prefetch0((byte*)(w + i + step) + PrefetchBytes);
            }
            TVec.LoadBf16Pairs(w + i, out var e0, out var o0);
            a0 = TVec.MultiplyAdd(TVec.LoadF32(xSplit + i), e0, a0);
            a1 = TVec.MultiplyAdd(TVec.LoadF32(xSplit + i + TVec.Count), o0, a1);
            TVec.LoadBf16Pairs(w + i + step, out var e1, out var o1);
            a2 = TVec.MultiplyAdd(TVec.LoadF32(xSplit + i + step), e1, a2);
            a3 = TVec.MultiplyAdd(TVec.LoadF32(xSplit + i + step + TVec.Count), o1, a3);
        }
        for (; i <= n - step; i += step)
        {
            TVec.LoadBf16Pairs(w + i, out var e0, out var o0);
            a0 = TVec.MultiplyAdd(TVec.LoadF32(xSplit + i), e0, a0);
            a1 = TVec.MultiplyAdd(TVec.LoadF32(xSplit + i + TVec.Count), o0, a1);
        }
        float sum = TVec.Sum(TVec.Add(TVec.Add(a0, a1), TVec.Add(a2, a3)));
        for (; i < n; i++) sum += x[i] * BFloat16.ToFloat(w[i]);
        return sum;
    }
}
