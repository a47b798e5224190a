using Engine.Core;

namespace Engine.Kernels;

/// <summary>
/// The shape of a <see cref="KvPool"/> without its memory: what a kernel needs to find a slot.
/// Layout [page][kvHead][slot][headDim], as in the pool.
/// </summary>
public readonly record struct KvPoolLayout(int KvHeads, int PageSize, int HeadDim, DType DType)
{
    public static KvPoolLayout Of(KvPool pool) => new(pool.KvHeads, pool.PageSize, pool.HeadDim, pool.DType);

    /// <summary>Element offset of (page, kvHead, slot-in-page, 0).</summary>
    public long Offset(int page, int kvHead, int slotInPage) =>
        ((long)page * KvHeads + kvHead) * PageSize * HeadDim + (long)slotInPage * HeadDim;

    /// <summary>Element offset of a layer's logical slot, through its page table.</summary>
    public long SlotOffset(ReadOnlySpan<int> pageTable, int kvHead, int slot) =>
        Offset(pageTable[slot / PageSize], kvHead, slot % PageSize);
}
