namespace Engine.Kernels.Ilgpu;

/// <summary>The KV pool's layout [page][kvHead][slot][headDim] as a kernel argument.</summary>
public struct KvGeometry
{
    public int KvHeads, PageSize, HeadDim;

    public static KvGeometry Of(KvPool pool) => new() { KvHeads = pool.KvHeads, PageSize = pool.PageSize, HeadDim = pool.HeadDim };

    /// <summary>Element offset of (page, kvHead, slot-in-page, 0), as <see cref="KvPool.Offset"/>.</summary>
    public readonly long Offset(int page, int kvHead, int slotInPage) =>
        ((long)page * KvHeads + kvHead) * PageSize * HeadDim + (long)slotInPage * HeadDim;
}
