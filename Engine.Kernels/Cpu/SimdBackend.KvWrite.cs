using System.Runtime.CompilerServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>Writes new keys/values into their paged slots, converting to the pool's dtype.</summary>
public sealed unsafe partial class SimdBackend
{
    public void KvWrite(KvPool pool, DeviceArray pageTable, DeviceArray keys, DeviceArray values, int startSlot, int rows)
    {
        if (startSlot < 0 || rows < 0) throw new ArgumentOutOfRangeException(nameof(startSlot));
        if (rows == 0) return;
        int* pages = CheckedPageTable(pool, pageTable, startSlot + rows);
        WriteRows(pool, keys, values, rows, pages, tableStride: 0, rowSequence: null, rowSlot: null, startSlot);
    }

    public void KvWrite(KvPool pool, KvBatchLayer batch, DeviceArray keys, DeviceArray values)
    {
        int rows = batch.Rows;
        if (rows == 0) return;
        int* tables = CheckedBatch(pool, batch);
        WriteRows(pool, keys, values, rows, tables, batch.TableStride, PointerOf<int>(batch.RowSequence), PointerOf<int>(batch.RowSlot), 0);
    }

    /// <summary>
    /// Row r goes to slot rowSlot[r] of sequence rowSequence[r] (its page table at tables + sequence * tableStride),
    /// or, without row arrays, to slot firstSlot + r of the one table.
    /// </summary>
    private void WriteRows(KvPool pool, DeviceArray keys, DeviceArray values, int rows, int* tables, int tableStride, int* rowSequence, int* rowSlot, int firstSlot)
    {
        int kvDim = pool.KvHeads * pool.HeadDim;
        Require(keys, DType.F32, (long)rows * kvDim, nameof(keys));
        Require(values, DType.F32, (long)rows * kvDim, nameof(values));
        float* k = PointerOf<float>(keys), v = PointerOf<float>(values);
        void* kPool = PointerOf(pool.Keys), vPool = PointerOf(pool.Values);
        var layout = pool.Layout;
        ForRanges(rows, 16, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                int* pages = rowSequence == null ? tables : tables + (long)rowSequence[r] * tableStride;
                int slot = rowSlot == null ? firstSlot + (int)r : rowSlot[r];
                for (int h = 0; h < layout.KvHeads; h++)
                {
                    long dst = layout.SlotOffset(pages, h, slot);
                    long src = r * kvDim + (long)h * layout.HeadDim;
                    ConvertRow(layout.DType, k + src, kPool, dst, layout.HeadDim);
                    ConvertRow(layout.DType, v + src, vPool, dst, layout.HeadDim);
                }
            }
        });
    }

    private static void ConvertRow(DType dtype, float* src, void* dst, long offset, int n)
    {
        switch (dtype)
        {
            case DType.F32: new ReadOnlySpan<float>(src, n).CopyTo(new Span<float>((float*)dst + offset, n)); break;
            case DType.BF16: for (int i = 0; i < n; i++) Bf16Element.Write(dst, offset + i, src[i]); break;
            case DType.F16: for (int i = 0; i < n; i++) F16Element.Write(dst, offset + i, src[i]); break;
            default: throw new ArgumentException($"unsupported KV dtype {dtype}");
        }
    }

    /// <summary>The page table's memory, after checking it covers <paramref name="slots"/> slots with valid page ids.</summary>
    private static int* CheckedPageTable(KvPool pool, DeviceArray pageTable, int slots)
    {
        int pagesNeeded = (slots + pool.PageSize - 1) / pool.PageSize;
        Require(pageTable, DType.I32, pagesNeeded, nameof(pageTable));
        Require(pool.Keys, pool.ElementsPerPage * pool.PageCount, "pool");
        int* pages = PointerOf<int>(pageTable);
        CheckPageIds(pool, pages, pagesNeeded);
        return pages;
    }

    private static void CheckPageIds(KvPool pool, int* pages, int count)
    {
        for (int i = 0; i < count; i++)
            if ((uint)pages[i] >= (uint)pool.PageCount)
                throw new ArgumentException($"page table entry {i} is {pages[i]}, outside the pool's {pool.PageCount} pages");
    }

    /// <summary>
    /// The page tables' memory, after checking the batch (<see cref="KvBatchChecks.Check"/>), each
    /// sequence's page ids, and that the row arrays agree with <see cref="KvBatchLayer.Sequences"/>.
    /// </summary>
    private static int* CheckedBatch(KvPool pool, KvBatchLayer batch)
    {
        batch.Check(pool);
        Require(batch.PageTables, DType.I32, (long)batch.Sequences.Count * batch.TableStride, nameof(batch.PageTables));
        Require(batch.RowSequence, DType.I32, batch.Rows, nameof(batch.RowSequence));
        Require(batch.RowSlot, DType.I32, batch.Rows, nameof(batch.RowSlot));
        Require(pool.Keys, pool.ElementsPerPage * pool.PageCount, "pool");
        int* tables = PointerOf<int>(batch.PageTables), rowSequence = PointerOf<int>(batch.RowSequence), rowSlot = PointerOf<int>(batch.RowSlot);
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            CheckPageIds(pool, tables + (long)s * batch.TableStride, KvBatchChecks.PagesReached(seq, pool.PageSize));
            for (int r = seq.FirstRow; r < seq.FirstRow + seq.Rows; r++)
                if (rowSequence[r] != s || rowSlot[r] != seq.FirstSlot + r - seq.FirstRow)
                    throw new ArgumentException($"batch row {r} is (sequence {rowSequence[r]}, slot {rowSlot[r]}), not (sequence {s}, slot {seq.FirstSlot + r - seq.FirstRow})");
        }
        return tables;
    }
}
