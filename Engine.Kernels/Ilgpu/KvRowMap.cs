using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Where each row of a step reads and writes the paged KV cache, as a kernel argument (the scalars
/// of a <see cref="KvBatchLayer"/>; its arrays are passed beside it). A batch: row r belongs to
/// sequence rowSequence[r] (page table at r's sequence * <see cref="TableStride"/>) and owns slot
/// rowSlot[r]. One sequence (empty row arrays): row r owns slot <see cref="FirstSlot"/> + r of the one table.
/// </summary>
public struct KvRowMap
{
    public int Rows, FirstSlot, TableStride;

    public static KvRowMap OneSequence(int firstSlot, int rows) => new() { Rows = rows, FirstSlot = firstSlot };
    public static KvRowMap Of(KvBatchLayer batch) => new() { Rows = batch.Rows, TableStride = batch.TableStride };

    public readonly int Slot(ArrayView<int> rowSlot, int row) => rowSlot.Length == 0 ? FirstSlot + row : rowSlot[row];

    public readonly ArrayView<int> Table(ArrayView<int> rowSequence, ArrayView<int> tables, int row) =>
        rowSequence.Length == 0 ? tables : tables.SubView((long)rowSequence[row] * TableStride, TableStride);

    /// <summary>Whether the row is its sequence's only row in the step (a decode row).</summary>
    public readonly bool IsDecodeRow(ArrayView<int> rowSequence, int row)
    {
        if (rowSequence.Length == 0) return Rows == 1;
        int sequence = rowSequence[row];
        return (row == 0 || rowSequence[row - 1] != sequence) && (row == Rows - 1 || rowSequence[row + 1] != sequence);
    }
}
