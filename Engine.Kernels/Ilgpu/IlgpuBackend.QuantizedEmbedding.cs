using Engine.Core;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Embedding gather over a block-quantized table: output[i, :] = the dequantized row tokens[i], bit for bit
/// ggml's dequantizer on the CPU simulator. A grid-stride loop over groups of eight values; a token outside
/// the table yields NaN.
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance(typeof(Q8_0Block))]
    [KernelInstance(typeof(Q4_0Block))]
    [KernelInstance(typeof(Q5_0Block))]
    [KernelInstance(typeof(Q4_KBlock))]
    [KernelInstance(typeof(Q5_KBlock))]
    [KernelInstance(typeof(Q6_KBlock))]
    internal static void QuantEmbeddingKernel<TQ>(ArrayView<ushort> table, ArrayView<int> tokens, ArrayView<float> output, int count, int hidden)
        where TQ : struct, IBlockFormat
    {
        int groupsPerRow = hidden / 8, groupsPerBlock = default(TQ).BlockElements / 8;
        long rowHalfwords = (long)(hidden / default(TQ).BlockElements) * default(TQ).BlockHalfwords;
        long vocab = table.Length / rowHalfwords;
        long total = (long)count * groupsPerRow;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            long row = i / groupsPerRow;
            int g = (int)(i - row * groupsPerRow), block = g / groupsPerBlock;
            int token = tokens[row];
            long at = row * hidden + 8L * g;
            if (token >= 0 && token < vocab)
                default(TQ).Decode(table, token * rowHalfwords + (long)block * default(TQ).BlockHalfwords, g - block * groupsPerBlock).Write(output, at, 1);
            else
                for (int e = 0; e < 8; e++) output[at + e] = float.NaN;
        }
    }

    private void EmbeddingQuantized(DeviceArray table, DeviceArray tokens, DeviceArray output, int count, int hidden)
    {
        int block = DTypes.BlockLayout(table.DType).Elements;
        Require(hidden % block == 0, $"embedding over {table.DType} needs hidden a multiple of {block}, got {hidden}");
        var config = GridStride((long)count * hidden / 8);
        var (t, ids, y) = (ViewOf<ushort>(table), ViewOf<int>(tokens), ViewOf<float>(output));
        switch (table.DType)
        {
            case DType.Q8_0: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(QuantEmbeddingKernel<Q8_0Block>)(config, t, ids, y, count, hidden); break;
            case DType.Q4_0: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(QuantEmbeddingKernel<Q4_0Block>)(config, t, ids, y, count, hidden); break;
            case DType.Q5_0: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(QuantEmbeddingKernel<Q5_0Block>)(config, t, ids, y, count, hidden); break;
            case DType.Q4_K: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(QuantEmbeddingKernel<Q4_KBlock>)(config, t, ids, y, count, hidden); break;
            case DType.Q5_K: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(QuantEmbeddingKernel<Q5_KBlock>)(config, t, ids, y, count, hidden); break;
            case DType.Q6_K: Kernel<ArrayView<ushort>, ArrayView<int>, ArrayView<float>, int, int>(QuantEmbeddingKernel<Q6_KBlock>)(config, t, ids, y, count, hidden); break;
            default: throw new ArgumentException($"embedding table dtype {table.DType} has no quantized kernel");
        }
    }
}
