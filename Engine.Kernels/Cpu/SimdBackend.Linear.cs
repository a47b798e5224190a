using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The linear layer. Decode (one x row) is bound by streaming the weights: output rows are split into
/// large contiguous blocks, each read row by row as one sequential stream. Prefill tiles outputs as (weight-row chunk
/// x x-row block) so each weight row is loaded once per block and reused for every x row in it.
/// </summary>
public sealed unsafe partial class SimdBackend
{
    /// <summary>Weight rows per prefill task: small enough to stay in L2 while the x rows stream past.</summary>
    private const int PrefillWeightChunk = 16;
    /// <summary>x rows per prefill task.</summary>
    private const int PrefillRowBlock = 64;
    /// <summary>Longest x whose even/odd split goes on the stack (floats).</summary>
    private const int MaxStackSplit = 16384;

    public void Linear(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
    {
        if (rows <= 0 || inDim <= 0 || outDim <= 0) throw new ArgumentOutOfRangeException(nameof(rows), $"bad linear shape rows={rows} in={inDim} out={outDim}");
        Require(x, DType.F32, (long)rows * inDim, nameof(x));
        RequireWeightType(weight, nameof(weight), quantizedAllowed: true);
        Require(weight, (long)outDim * inDim, nameof(weight));
        Require(output, DType.F32, (long)rows * outDim, nameof(output));
        if (DTypes.IsBlockQuantized(weight.DType)) LinearQuantized(PointerOf<float>(x), weight.DType, (byte*)PointerOf(weight), PointerOf<float>(output), rows, inDim, outDim);
        else
        {
            var kernel = new LinearKernel(this, PointerOf<float>(x), PointerOf(weight), PointerOf<float>(output), rows, inDim, outDim);
            KernelDispatch.Run(ref kernel, weight.DType);
        }
        if (bias is null) return;
        RequireWeightType(bias, nameof(bias));
        Require(bias, outDim, nameof(bias));
        var addBias = new BiasKernel(this, PointerOf(bias), PointerOf<float>(output), rows, outDim);
        KernelDispatch.Run(ref addBias, bias.DType);
    }

    private readonly struct LinearKernel(SimdBackend backend, float* x, void* weight, float* output, int rows, int inDim, int outDim) : ITypedKernel
    {
        public void Run<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            if (rows == 1) MatVec<TVec, TElem>();
            else MatMul<TVec, TElem>();
        }

        private void MatVec<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            float* px = x, po = output; void* w = weight; int n = inDim, m = outDim;
            // A few contiguous row ranges per thread: each one sequential stream, yet a stalled thread's
            // share can be taken over.
            int tasks = (int)Math.Clamp((long)m * n / MinParallelWork, 1, Math.Min(m, backend.Threads * 4));
            int perTask = (m + tasks - 1) / tasks;
            if (typeof(TElem) == typeof(Bf16Element))
            {
                // bf16: x split into even/odd halves once, so each weight block is one load and no shuffle.
                bool onStack = n <= MaxStackSplit;
                float* split;
                if (onStack)
                {
                    float* onFrame = stackalloc float[n]; // lives until MatVec returns
                    split = onFrame;
                }
                else split = (float*)NativeMemory.Alloc((nuint)n * sizeof(float));
                try
                {
                    LinearKernels.SplitEvenOdd<TVec>(px, n, split);
                    float* xs = split;
                    backend.RunTasks(tasks, (long)m * n, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t) =>
                    {
                        int end = Math.Min(m, (t + 1) * perTask);
                        for (int o = t * perTask; o < end; o++)
                            po[o] = LinearKernels.StreamRowBf16<TVec>(px, xs, (ushort*)w + (long)o * n, n);
                    });
                }
                finally
                {
                    if (!onStack) NativeMemory.Free(split);
                }
            }
            else
            {
                backend.RunTasks(tasks, (long)m * n, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t) =>
                {
                    int end = Math.Min(m, (t + 1) * perTask);
                    for (int o = t * perTask; o < end; o++)
                        po[o] = RowKernels.Dot<TVec, TElem>(px, w, (long)o * n, n, LinearKernels.PrefetchBytes);
                });
            }
        }

        private void MatMul<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            float* px = x, po = output; void* w = weight; int n = inDim, m = outDim, r = rows;
            int chunks = (m + PrefillWeightChunk - 1) / PrefillWeightChunk;
            int blocks = (r + PrefillRowBlock - 1) / PrefillRowBlock;
            backend.RunTasks(chunks * blocks, (long)r * m * n, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
            {
                int chunk = task % chunks, block = task / chunks;
                int o0 = chunk * PrefillWeightChunk, oEnd = Math.Min(m, o0 + PrefillWeightChunk);
                int r0 = block * PrefillRowBlock, rEnd = Math.Min(r, r0 + PrefillRowBlock);
                PrefillTile<TVec, TElem>(px, w, 0, o0, oEnd, r0, rEnd, n, po, m);
            });
        }
    }

    /// <summary>
    /// output[row, o] = x[row] · weight row o for rows [r0, rEnd) and outputs [o0, oEnd), where weight row o
    /// is row o - wRow0 of <paramref name="w"/> (a whole matrix, or a chunk of rows widened elsewhere).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefillTile<TVec, TElem>(float* px, void* w, int wRow0, int o0, int oEnd, int r0, int rEnd, int n, float* po, int m)
        where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
    {
        int row = r0;
        for (; row + 4 <= rEnd; row += 4)
        {
            float* xr = px + (long)row * n, outRows = po + (long)row * m + wRow0;
            int o = o0 - wRow0, end = oEnd - wRow0;
            for (; o + 4 <= end; o += 4) LinearKernels.Rows4x4<TVec, TElem>(xr, w, o, n, outRows, m);
            for (; o < end; o++)
                for (int k = 0; k < 4; k++) outRows[(long)k * m + o] = RowKernels.Dot<TVec, TElem>(xr + (long)k * n, w, (long)o * n, n);
        }
        for (; row < rEnd; row++)
        {
            float* xr = px + (long)row * n, outRow = po + (long)row * m + wRow0;
            int o = o0 - wRow0, end = oEnd - wRow0;
            for (; o + 4 <= end; o += 4) RowKernels.Dot4<TVec, TElem>(xr, w, (long)o * n, n, n, outRow + o);
            for (; o < end; o++) outRow[o] = RowKernels.Dot<TVec, TElem>(xr, w, (long)o * n, n);
        }
    }

    /// <summary>output[r, :] += widen(bias).</summary>
    private readonly struct BiasKernel(SimdBackend backend, void* bias, float* output, int rows, int outDim) : ITypedKernel
    {
        public void Run<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            void* b = bias; float* po = output; int m = outDim;
            backend.ForRanges(rows, Math.Max(1, 8192 / m), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long r = start; r < end; r++)
                {
                    float* row = po + r * m;
                    int i = 0;
                    for (; i <= m - TVec.Count; i += TVec.Count)
                        TVec.Store(TVec.Add(TVec.LoadF32(row + i), TElem.Load<TVec>(b, i)), row + i);
                    for (; i < m; i++) row[i] += TElem.Read(b, i);
                }
            });
        }
    }
}
