using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Where each row of a step reads and writes the paged KV cache, as a kernel argument (the scalars
/// of a <see cref="KvBatchLayer"/>; its arrays are passed beside it). A batch: row r belongs to
/// sequence rowSequence[r] (page table at r's sequence * <see cref="TableStride"/>) and owns slot
/// rowSlot[r]. One sequence: row r owns slot <see cref="FirstSlot"/> + r of the one table, and the row
/// arrays passed are placeholders never read (any valid view: empty views are not portable kernel arguments).
/// </summary>
public struct KvRowMap
{
    public int Rows, FirstSlot, TableStride;
    /// <summary>1 for a batch (the row arrays are read), 0 for one sequence.</summary>
    public int Batched;

    public static KvRowMap OneSequence(int firstSlot, int rows) => new() { Rows = rows, FirstSlot = firstSlot };
    public static KvRowMap Of(KvBatchLayer batch) => new() { Rows = batch.Rows, TableStride = batch.TableStride, Batched = 1 };

    public readonly int Slot(ArrayView<int> rowSlot, int row) => Batched == 0 ? FirstSlot + row : rowSlot[row];

    public readonly ArrayView<int> Table(ArrayView<int> rowSequence, ArrayView<int> tables, int row) =>
        Batched == 0 ? tables : tables.SubView((long)rowSequence[row] * TableStride, TableStride);

    /// <summary>Whether two rows of the step belong to the same sequence.</summary>
    public readonly bool SameSequence(ArrayView<int> rowSequence, int row, int other) => Batched == 0 || rowSequence[row] == rowSequence[other];

    /// <summary>Whether the row is its sequence's only row in the step (a decode row).</summary>
    public readonly bool IsDecodeRow(ArrayView<int> rowSequence, int row)
    {
        if (Batched == 0) return Rows == 1;
        int sequence = rowSequence[row];
        return (row == 0 || rowSequence[row - 1] != sequence) && (row == Rows - 1 || rowSequence[row + 1] != sequence);
    }
}
