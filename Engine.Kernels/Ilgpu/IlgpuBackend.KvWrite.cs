using Engine.Core;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// KV write: rows of keys/values F32 [rows, kvHeads, headDim] go to their slots (one sequence's
/// slots startSlot.., or each batch row's own sequence and slot, see <see cref="KvRowMap"/>), through
/// the page tables, into the pool laid out [page][kvHead][slot][headDim], narrowed to the pool's dtype
/// (bf16 and f16 round to nearest even). One thread per element, keys and values together: one
/// dispatch for a whole batch.
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void KvWriteKernel<TP, TF>(ArrayView<TP> poolKeys, ArrayView<TP> poolValues, ArrayView<int> pageTables,
        ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> keys, ArrayView<float> values, KvWriteParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        int headDim = p.Kv.HeadDim;
        long total = (long)p.Rows.Rows * p.Kv.KvHeads * headDim;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            long vector = i / headDim;                 // (row, kvHead)
            int d = (int)(i - vector * headDim);
            int row = (int)(vector / p.Kv.KvHeads);
            int head = (int)(vector - (long)row * p.Kv.KvHeads);
            long offset = p.Kv.SlotOffset(p.Rows.Table(rowSequence, pageTables, row), head, p.Rows.Slot(rowSlot, row)) + d;
            poolKeys[offset] = default(TF).Narrow(keys[i]);
            poolValues[offset] = default(TF).Narrow(values[i]);
        }
    }

    public void KvWrite(KvPool pool, DeviceArray pageTable, DeviceArray keys, DeviceArray values, int startSlot, int rows)
    {
        Require(pageTable.DType == DType.I32, "page tables are I32");
        Require(startSlot >= 0 && (long)startSlot + rows <= pageTable.Length * pool.PageSize, $"KV write to slots [{startSlot}, {startSlot + rows}) beyond the {pageTable.Length} pages of the page table");
        LaunchKvWrite(pool, KvRowMap.OneSequence(startSlot, rows), pageTable, null, keys, values);
    }

    public void KvWrite(KvPool pool, KvBatchLayer batch, DeviceArray keys, DeviceArray values)
    {
        batch.Check(pool);
        LaunchKvWrite(pool, KvRowMap.Of(batch), batch.PageTables, batch, keys, values);
    }

    private void LaunchKvWrite(KvPool pool, KvRowMap rows, DeviceArray pageTables, KvBatchLayer? batch, DeviceArray keys, DeviceArray values)
    {
        long elements = (long)rows.Rows * pool.KvHeads * pool.HeadDim;
        Require(keys.DType == DType.F32 && values.DType == DType.F32 && keys.Length >= elements && values.Length >= elements, "KV write needs F32 keys and values [rows, kvHeads, headDim]");
        if (rows.Rows == 0) return;
        var p = new KvWriteParams { Kv = pool.Layout, Rows = rows };
        var config = GridStride(elements);
        switch (pool.DType)
        {
            case DType.F32: LaunchKvWriteOf<float, F32Format>(config, pool, pageTables, batch, keys, values, p); break;
            case DType.F16: LaunchKvWriteOf<ushort, F16Format>(config, pool, pageTables, batch, keys, values, p); break;
            case DType.BF16: LaunchKvWriteOf<ushort, BF16Format>(config, pool, pageTables, batch, keys, values, p); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }

    private void LaunchKvWriteOf<TP, TF>(KernelConfig config, KvPool pool, DeviceArray pageTables, KvBatchLayer? batch, DeviceArray keys, DeviceArray values, KvWriteParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        var (rowSequence, rowSlot) = RowViews(batch, pageTables);
        Kernel<ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, KvWriteParams>(KvWriteKernel<TP, TF>)(
            config, ViewOf<TP>(pool.Keys), ViewOf<TP>(pool.Values), ViewOf<int>(pageTables), rowSequence, rowSlot, ViewOf<float>(keys), ViewOf<float>(values), p);
    }

    /// <summary>A batch's row arrays as kernel arguments; for one sequence, the page table as placeholders (see <see cref="KvRowMap"/>).</summary>
    private (ArrayView<int> RowSequence, ArrayView<int> RowSlot) RowViews(KvBatchLayer? batch, DeviceArray pageTable) =>
        batch is null ? (ViewOf<int>(pageTable), ViewOf<int>(pageTable)) : (ViewOf<int>(batch.RowSequence), ViewOf<int>(batch.RowSlot));
}
