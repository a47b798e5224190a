using Engine.Models.Kv;

namespace Engine.Models;

/// <summary>Which part of a request a forward step is.</summary>
/// <param name="IsPrefill">A prompt chunk (false: a decode step).</param>
/// <param name="IsLastPrefillChunk">The chunk that ends the prompt.</param>
/// <param name="AllLogits">Logits for every row of the step, not only the last.</param>
public readonly record struct ForwardStep(bool IsPrefill, bool IsLastPrefillChunk, bool AllLogits = false)
{
    public static ForwardStep Decode => new(false, false);

    /// <summary>Rows of logits the step produces for <paramref name="rows"/> tokens: all, the last one (decode and a prompt's last chunk), or none.</summary>
    public int LogitRows(int rows) => AllLogits ? rows : !IsPrefill || IsLastPrefillChunk ? 1 : 0;
}

/// <summary>
/// One sequence's part of a batched forward step: its tokens (a prefill chunk, or the one token of a
/// decode step) run at its next logical positions. The caller has already made room for them
/// (<see cref="KvSequence.Append"/>) and advances <see cref="KvSequence.LogicalLength"/> afterwards.
/// </summary>
public sealed record BatchEntry(KvSequence Sequence, ReadOnlyMemory<int> Tokens, ForwardStep Step);

/// <summary>
/// The logits of a forward step, F32 [rows, vocab]: entry i's <see cref="RowCount"/>[i] rows
/// (<see cref="ForwardStep.LogitRows"/>) start at row <see cref="FirstRow"/>[i]. Scratch: valid until
/// the next forward step.
/// </summary>
public sealed record ForwardLogits(Kernels.DeviceArray Logits, int[] FirstRow, int[] RowCount, int Vocab)
{
    /// <summary>Entry <paramref name="entry"/>'s logits, F32 [RowCount[entry], vocab].</summary>
    public Kernels.DeviceArray Of(int entry) => Logits.View((long)FirstRow[entry] * Vocab, (long)RowCount[entry] * Vocab);
}
