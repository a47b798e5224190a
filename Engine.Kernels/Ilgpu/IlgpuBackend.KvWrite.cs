using Engine.Core;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// KV write: rows of keys/values F32 [rows, kvHeads, headDim] go to slots startSlot.. of a layer,
/// through its page table, into the pool laid out [page][kvHead][slot][headDim], narrowed to the
/// pool's dtype (bf16 and f16 round to nearest even). One thread per element, keys and values together.
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void KvWriteKernel<TP, TF>(ArrayView<TP> poolKeys, ArrayView<TP> poolValues, ArrayView<int> pageTable,
        ArrayView<float> keys, ArrayView<float> values, KvGeometry geometry, int startSlot, int rows)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        int headDim = geometry.HeadDim;
        long total = (long)rows * geometry.KvHeads * headDim;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            long vector = i / headDim;                 // (row, kvHead)
            int d = (int)(i - vector * headDim);
            int row = (int)(vector / geometry.KvHeads);
            int head = (int)(vector - (long)row * geometry.KvHeads);
            int slot = startSlot + row;
            long offset = geometry.Offset(pageTable[slot / geometry.PageSize], head, slot % geometry.PageSize) + d;
            poolKeys[offset] = default(TF).Narrow(keys[i]);
            poolValues[offset] = default(TF).Narrow(values[i]);
        }
    }

    public void KvWrite(KvPool pool, DeviceArray pageTable, DeviceArray keys, DeviceArray values, int startSlot, int rows)
    {
        var geometry = KvGeometry.Of(pool);
        long elements = (long)rows * pool.KvHeads * pool.HeadDim;
        Require(keys.DType == DType.F32 && values.DType == DType.F32 && keys.Length >= elements && values.Length >= elements, "KV write needs F32 keys and values [rows, kvHeads, headDim]");
        Require(pageTable.DType == DType.I32, "page tables are I32");
        Require(startSlot >= 0 && (long)startSlot + rows <= pageTable.Length * pool.PageSize, $"KV write to slots [{startSlot}, {startSlot + rows}) beyond the {pageTable.Length} pages of the page table");
        if (rows == 0) return;
        var config = GridStride(elements);
        switch (pool.DType)
        {
            case DType.F32:
                Kernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, KvGeometry, int, int>(KvWriteKernel<float, F32Format>)(
                    config, ViewOf<float>(pool.Keys), ViewOf<float>(pool.Values), ViewOf<int>(pageTable), ViewOf<float>(keys), ViewOf<float>(values), geometry, startSlot, rows);
                break;
            case DType.F16:
                Kernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<int>, ArrayView<float>, ArrayView<float>, KvGeometry, int, int>(KvWriteKernel<ushort, F16Format>)(
                    config, ViewOf<ushort>(pool.Keys), ViewOf<ushort>(pool.Values), ViewOf<int>(pageTable), ViewOf<float>(keys), ViewOf<float>(values), geometry, startSlot, rows);
                break;
            case DType.BF16:
                Kernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<int>, ArrayView<float>, ArrayView<float>, KvGeometry, int, int>(KvWriteKernel<ushort, BF16Format>)(
                    config, ViewOf<ushort>(pool.Keys), ViewOf<ushort>(pool.Values), ViewOf<int>(pageTable), ViewOf<float>(keys), ViewOf<float>(values), geometry, startSlot, rows);
                break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }
}
