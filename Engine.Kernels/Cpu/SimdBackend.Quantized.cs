using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using Engine.Core;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Linear and embedding over block-quantized weights (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K). Linear quantizes
/// the x rows to 8 bits once per call (<see cref="Q8Activations"/>), then runs integer dot products
/// (AVX2, AVX-VNNI where present). Decode splits output rows across tasks; prefill tiles (weight-row chunk x
/// x-row block) as for float weights, each decoded weight block multiplied with 4 x rows at once. CPUs
/// without AVX2, and <see cref="KernelSet.Portable"/>, widen each weight row to float instead.
/// </summary>
public sealed unsafe partial class SimdBackend
{
    /// <summary>Weight rows per quantized prefill task.</summary>
    private const int QuantizedWeightChunk = 16;

    public bool SupportsWeightType(DType dtype) => dtype is DType.F32 or DType.F16 or DType.BF16 || DTypes.IsBlockQuantized(dtype);

    /// <summary>Per calling thread: the quantized x rows of the current linear call (pinned, grown as needed).</summary>
    [ThreadStatic] private static byte[]? ActivationBuffer;

    private void LinearQuantized(float* x, DType type, byte* weight, float* output, int rows, int inDim, int outDim)
    {
        var (block, _) = DTypes.BlockLayout(type);
        if (inDim % block != 0) throw new ArgumentException($"{type} linear needs inDim a multiple of {block}, got {inDim}");
        if (Kernels == KernelSet.Portable || !(Avx2.IsSupported && Fma.IsSupported))
        {
            LinearWidened(x, type, weight, output, rows, inDim, outDim);
            return;
        }
        switch (type)
        {
            case DType.Q8_0: LinearQuantized<Q8_0RowKernel>(x, type, weight, output, rows, inDim, outDim); break;
            case DType.Q4_0: LinearQuantized<Q4_0RowKernel>(x, type, weight, output, rows, inDim, outDim); break;
            case DType.Q5_0: LinearQuantized<Q5_0RowKernel>(x, type, weight, output, rows, inDim, outDim); break;
            case DType.Q4_K: LinearQuantized<Q4_KRowKernel>(x, type, weight, output, rows, inDim, outDim); break;
            case DType.Q5_K: LinearQuantized<Q5_KRowKernel>(x, type, weight, output, rows, inDim, outDim); break;
            case DType.Q6_K: LinearQuantized<Q6_KRowKernel>(x, type, weight, output, rows, inDim, outDim); break;
            default: throw new ArgumentException($"no quantized linear for {type}");
        }
    }

    private void LinearQuantized<TKernel>(float* x, DType type, byte* weight, float* output, int rows, int inDim, int outDim)
        where TKernel : IQuantizedRowKernel
    {
        long bytes = Q8Activations.BufferBytes(rows, inDim, TKernel.ActivationBlock);
        if (ActivationBuffer is not { } buffer || buffer.Length < bytes)
            ActivationBuffer = buffer = GC.AllocateUninitializedArray<byte>((int)Math.Max(bytes, 1 << 16), pinned: true);
        var activations = Q8Activations.Over((byte*)Unsafe.AsPointer(ref buffer[0]), rows, inDim, TKernel.ActivationBlock);
        int n = inDim, m = outDim, r = rows;
        ForRanges(r, Math.Max(1, MinElementsPerTask / n), (start, end) =>
        {
            for (long row = start; row < end; row++) activations.QuantizeRow(x + row * n, (int)row);
        });
        long rowBytes = DTypes.ByteCount(type, inDim);
        byte* w = weight;
        float* po = output;
        if (r < 4)
        {
            // Decode: contiguous ranges of weight rows per task, each row streamed once for the (few) x rows.
            int tasks = (int)Math.Clamp((long)m * n * r / MinParallelWork, 1, Math.Min(m, Threads * 4));
            int perTask = (m + tasks - 1) / tasks;
            RunTasks(tasks, (long)m * n * r, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (t) =>
            {
                int end = Math.Min(m, (t + 1) * perTask);
                for (int o = t * perTask; o < end; o++)
                    for (int row = 0; row < r; row++) TKernel.Dot<OneRow>(w + o * rowBytes, activations, row, po + (long)row * m + o, m);
            });
            return;
        }
        int chunks = (m + QuantizedWeightChunk - 1) / QuantizedWeightChunk;
        int blocks = (r + PrefillRowBlock - 1) / PrefillRowBlock;
        RunTasks(chunks * blocks, (long)r * m * n, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (task) =>
        {
            int chunk = task % chunks, rowBlock = task / chunks;
            int o0 = chunk * QuantizedWeightChunk, oEnd = Math.Min(m, o0 + QuantizedWeightChunk);
            int r0 = rowBlock * PrefillRowBlock, rEnd = Math.Min(r, r0 + PrefillRowBlock);
            int row = r0;
            for (; row + 4 <= rEnd; row += 4)
                for (int o = o0; o < oEnd; o++) TKernel.Dot<FourRows>(w + o * rowBytes, activations, row, po + (long)row * m + o, m);
            for (; row < rEnd; row++)
                for (int o = o0; o < oEnd; o++) TKernel.Dot<OneRow>(w + o * rowBytes, activations, row, po + (long)row * m + o, m);
        });
    }

    /// <summary>
    /// Portable kernels, or CPUs without AVX2: each weight row widened to float (exactly, as ggml), then float
    /// dot products with every x row: the float result over the dequantized weights.
    /// </summary>
    private void LinearWidened(float* x, DType type, byte* weight, float* output, int rows, int inDim, int outDim)
    {
        long rowBytes = DTypes.ByteCount(type, inDim);
        var ggmlType = GgufCheckpoint.GgmlTypeOf(type);
        int n = inDim, m = outDim;
        ForRanges(m, 1, (start, end) =>
        {
            var widened = new float[n];
            for (long o = start; o < end; o++)
            {
                GgufDequantizer.Dequantize(ggmlType, new ReadOnlySpan<byte>(weight + o * rowBytes, (int)rowBytes), widened, "weight");
                for (int row = 0; row < rows; row++)
                    output[(long)row * m + o] = TensorPrimitives.Dot(new ReadOnlySpan<float>(x + (long)row * n, n), widened);
            }
        });
    }

    /// <summary>Gathers rows of a block-quantized table, widened exactly as ggml's dequantize_row functions.</summary>
    private void EmbeddingQuantized(DType type, byte* table, int* ids, float* output, int count, int hidden)
    {
        var (block, _) = DTypes.BlockLayout(type);
        if (hidden % block != 0) throw new ArgumentException($"{type} embedding needs hidden a multiple of {block}, got {hidden}");
        long rowBytes = DTypes.ByteCount(type, hidden);
        var ggmlType = GgufCheckpoint.GgmlTypeOf(type);
        ForRanges(count, 4, (start, end) =>
        {
            for (long i = start; i < end; i++)
                GgufDequantizer.Dequantize(ggmlType, new ReadOnlySpan<byte>(table + ids[i] * rowBytes, (int)rowBytes), new Span<float>(output + i * hidden, hidden), "embedding");
        });
    }
}
