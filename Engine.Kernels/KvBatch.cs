namespace Engine.Kernels;

/// <summary>One sequence's rows in a batched forward step, for one layer (host side).</summary>
/// <param name="FirstRow">The sequence's first row in the step (a sequence's rows are contiguous and in order).</param>
/// <param name="Rows">Its rows in the step: a prefill chunk's length, or 1 for a decode step.</param>
/// <param name="FirstSlot">The layer slot its first row's key and value are written to (the layer's physical length before the step).</param>
public readonly record struct BatchSequence(int FirstRow, int Rows, int FirstSlot);

/// <summary>
/// How the rows of a batched forward step address the paged KV cache in one layer. Row r belongs to
/// sequence <see cref="RowSequence"/>[r], writes its key and value to slot <see cref="RowSlot"/>[r] of
/// that sequence's layer and attends to slots [0, RowSlot[r]] (causal within a chunk, whatever other
/// sequences share the step). <see cref="PageTables"/> is I32 [sequences, <see cref="TableStride"/>]:
/// row s holds sequence s's page ids for this layer. The device arrays are what kernels read;
/// <see cref="Sequences"/> is the same description on the host.
/// </summary>
public sealed record KvBatchLayer(
    IReadOnlyList<BatchSequence> Sequences,
    int TableStride,
    DeviceArray RowSequence,
    DeviceArray RowSlot,
    DeviceArray PageTables)
{
    /// <summary>Rows of the step, all sequences together.</summary>
    public int Rows => Sequences.Count == 0 ? 0 : Sequences[^1].FirstRow + Sequences[^1].Rows;

    /// <summary>Sequence <paramref name="sequence"/>'s page table for this layer (a view of <see cref="PageTables"/>).</summary>
    public DeviceArray PageTable(int sequence) => PageTables.View((long)sequence * TableStride, TableStride);
}
