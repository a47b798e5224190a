using Engine.Core;

namespace Engine.Kernels;

/// <summary>Host-side checks of a <see cref="KvBatchLayer"/> before a backend launches batched KV ops on it.</summary>
public static class KvBatchChecks
{
    /// <summary>
    /// Throws unless the sequences tile the rows in order (each at least one row), each sequence's
    /// table has the pages its rows reach, and the row and table arrays are I32 and long enough.
    /// The page ids and the row arrays' contents live on the device and are not read here.
    /// </summary>
    public static void Check(this KvBatchLayer batch, KvPool pool)
    {
        int nextRow = 0;
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            if (seq.FirstRow != nextRow || seq.Rows <= 0 || seq.FirstSlot < 0)
                throw new ArgumentException($"batch sequence {s} ({seq}) does not start at row {nextRow} with at least one row");
            nextRow += seq.Rows;
            if (PagesReached(seq, pool.PageSize) > batch.TableStride)
                throw new ArgumentException($"batch sequence {s} reaches slot {seq.FirstSlot + seq.Rows - 1}, beyond its {batch.TableStride}-page table");
        }
        CheckInts(batch.PageTables, (long)batch.Sequences.Count * batch.TableStride, nameof(batch.PageTables));
        CheckInts(batch.RowSequence, nextRow, nameof(batch.RowSequence));
        CheckInts(batch.RowSlot, nextRow, nameof(batch.RowSlot));
    }

    /// <summary>Pages of a sequence's table that its rows' slots fall in, from the first.</summary>
    public static int PagesReached(BatchSequence seq, int pageSize) => (seq.FirstSlot + seq.Rows + pageSize - 1) / pageSize;

    private static void CheckInts(DeviceArray array, long needed, string name)
    {
        if (array.DType != DType.I32 || array.Length < needed)
            throw new ArgumentException($"{name} must be I32 of at least {needed} elements, got {array.DType} of {array.Length}");
    }
}
