using System.Runtime.CompilerServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>Token embedding gather: one table row per token, widened to F32.</summary>
public sealed unsafe partial class SimdBackend
{
    public void Embedding(DeviceArray table, DeviceArray tokens, DeviceArray output, int count, int hidden)
    {
        if (hidden <= 0) throw new ArgumentOutOfRangeException(nameof(hidden));
        RequireWeightType(table, nameof(table), quantizedAllowed: true);
        Require(tokens, DType.I32, count, nameof(tokens));
        Require(output, DType.F32, (long)count * hidden, nameof(output));
        long vocab = table.Length / hidden;
        int* ids = PointerOf<int>(tokens);
        for (int i = 0; i < count; i++)
            if ((uint)ids[i] >= vocab) throw new EngineException($"token id {ids[i]} is outside the vocabulary (size {vocab})");
        if (DTypes.IsBlockQuantized(table.DType))
        {
            EmbeddingQuantized(table.DType, (byte*)PointerOf(table), ids, PointerOf<float>(output), count, hidden);
            return;
        }
        var kernel = new EmbeddingKernel(this, PointerOf(table), ids, PointerOf<float>(output), count, hidden);
        KernelDispatch.Run(ref kernel, table.DType);
    }

    private readonly struct EmbeddingKernel(SimdBackend backend, void* table, int* ids, float* output, int count, int hidden) : ITypedKernel
    {
        public void Run<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            void* t = table; int* tokenIds = ids; float* o = output; int h = hidden;
            backend.ForRanges(count, 4, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long i = start; i < end; i++)
                    RowKernels.Widen<TVec, TElem>(t, (long)tokenIds[i] * h, o + i * h, h);
            });
        }
    }
}
