using Engine.Core;
using ILGPU;

namespace Engine.Kernels;

/// <summary>
/// The shape of a <see cref="KvPool"/> without its memory: what a kernel needs to find a slot, and the
/// one place the slot-offset formula is written. Layout [page][kvHead][slot][headDim], as in the pool.
/// An unmanaged value, so ILGPU kernels take it as an argument too.
/// </summary>
public readonly record struct KvPoolLayout(int KvHeads, int PageSize, int HeadDim, DType DType)
{
    /// <summary>Elements of one page of keys (or values): kvHeads * pageSize * headDim.</summary>
    public long ElementsPerPage => (long)KvHeads * PageSize * HeadDim;

    /// <summary>Element offset of (page, kvHead, slot-in-page, 0).</summary>
    public long Offset(int page, int kvHead, int slotInPage) =>
        ((long)page * KvHeads + kvHead) * PageSize * HeadDim + (long)slotInPage * HeadDim;

    /// <summary>Element offset of a layer's logical slot, through its page table.</summary>
    public long SlotOffset(ReadOnlySpan<int> pageTable, int kvHead, int slot) =>
        Offset(pageTable[slot / PageSize], kvHead, slot % PageSize);

    /// <summary>As <see cref="SlotOffset(ReadOnlySpan{int}, int, int)"/>, for host kernels holding the table's address.</summary>
    public unsafe long SlotOffset(int* pageTable, int kvHead, int slot) =>
        Offset(pageTable[slot / PageSize], kvHead, slot % PageSize);

    /// <summary>As <see cref="SlotOffset(ReadOnlySpan{int}, int, int)"/>, inside ILGPU kernels.</summary>
    public long SlotOffset(ArrayView<int> pageTable, int kvHead, int slot) =>
        Offset(pageTable[slot / PageSize], kvHead, slot % PageSize);
}
