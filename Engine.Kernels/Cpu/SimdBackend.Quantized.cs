using System.Runtime.CompilerServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>Linear and embedding over block-quantized (Q8_0) weights.</summary>
public sealed unsafe partial class SimdBackend
{
    public bool SupportsWeightType(DType dtype) => dtype is DType.F32 or DType.F16 or DType.BF16 or DType.Q8_0;

    /// <summary>Linear with Q8_0 weights: decode splits output rows across tasks; prefill tiles weight rows x x rows as for float weights.</summary>
    private void LinearQ8_0(float* x, byte* weight, float* output, int rows, int inDim, int outDim)
    {
        if (inDim % Q8_0Kernels.Block != 0) throw new ArgumentException($"Q8_0 linear needs inDim a multiple of {Q8_0Kernels.Block}, got {inDim}");
        long rowBytes = (long)inDim / Q8_0Kernels.Block * Q8_0Kernels.BlockBytes;
        int n = inDim, m = outDim;
        if (rows == 1)
        {
            int tasks = (int)Math.Clamp((long)m * n / MinParallelWork, 1, Math.Min(m, Threads * 4));
            int perTask = (m + tasks - 1) / tasks;
            RunTasks(tasks, (long)m * n, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t) =>
            {
                int end = Math.Min(m, (t + 1) * perTask);
                for (int o = t * perTask; o < end; o++) output[o] = Q8_0Kernels.Dot(x, weight + o * rowBytes, n);
            });
            return;
        }
        var prefill = new Q8_0PrefillKernel(this, x, weight, output, rows, inDim, outDim);
        KernelDispatch.Run(ref prefill, DType.F32); // the widened chunk is F32
    }

    private void EmbeddingQ8_0(byte* table, int* ids, float* output, int count, int hidden)
    {
        if (hidden % Q8_0Kernels.Block != 0) throw new ArgumentException($"Q8_0 embedding needs hidden a multiple of {Q8_0Kernels.Block}, got {hidden}");
        long rowBytes = (long)hidden / Q8_0Kernels.Block * Q8_0Kernels.BlockBytes;
        ForRanges(count, 4, (start, end) =>
        {
            for (long i = start; i < end; i++) Q8_0Kernels.Widen(table + ids[i] * rowBytes, output + i * hidden, hidden);
        });
    }
}
