using Engine.Core;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Embedding gather: output[i, :] = widen(table[tokens[i], :]). A grid-stride loop over all output
/// elements, so consecutive threads read consecutive columns of a row (coalesced). A token outside
/// the table yields NaN rather than reading foreign memory.
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void EmbeddingKernel<TW, TF>(ArrayView<TW> table, ArrayView<int> tokens, ArrayView<float> output, int count, int hidden)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        long total = (long)count * hidden;
        long vocab = table.Length / hidden;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            long row = i / hidden;
            long col = i - row * hidden;
            int token = tokens[row];
            output[i] = token >= 0 && token < vocab ? default(TF).Widen(table[token * (long)hidden + col]) : float.NaN;
        }
    }

    public void Embedding(DeviceArray table, DeviceArray tokens, DeviceArray output, int count, int hidden)
    {
        Require(hidden > 0 && table.Length % hidden == 0, $"embedding table of {table.Length} elements is not [vocab, {hidden}]");
        Require(tokens.DType == DType.I32 && tokens.Length >= count, "embedding needs count I32 tokens");
        Require(output.DType == DType.F32 && output.Length >= (long)count * hidden, "embedding output too small");
        if (count == 0) return;
        if (DTypes.IsBlockQuantized(table.DType))
        {
            EmbeddingQuantized(table, tokens, output, count, hidden);
            return;
        }
        var config = GridStride((long)count * hidden);
        switch (table.DType)
        {
            case DType.F32: Kernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int>(EmbeddingKernel<float, F32Format>)(config, ViewOf<float>(table), ViewOf<int>(tokens), ViewOf<float>(output), count, hidden); break;
            case DType.F16: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(EmbeddingKernel<ushort, F16Format>)(config, ViewOf<ushort>(table), ViewOf<int>(tokens), ViewOf<float>(output), count, hidden); break;
            case DType.BF16: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(EmbeddingKernel<ushort, BF16Format>)(config, ViewOf<ushort>(table), ViewOf<int>(tokens), ViewOf<float>(output), count, hidden); break;
            default: throw new ArgumentException($"embedding table dtype {table.DType} is not a weight dtype");
        }
    }
}
