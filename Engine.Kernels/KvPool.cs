using Engine.Core;

namespace Engine.Kernels;

/// <summary>
/// The device pool of KV pages shared by all layers and sequences. Keys and values each form one
/// array laid out [page][kvHead][slot][headDim], so that each KV head's slots within a page are
/// contiguous and can be compacted independently (LagKV keeps different tokens per head).
/// Keys are stored after RoPE.
/// </summary>
public sealed class KvPool : IDisposable
{
    public KvPool(IBackend backend, int pageCount, int kvHeads, int pageSize, int headDim, DType dtype)
    {
        if (dtype is not (DType.F32 or DType.F16 or DType.BF16)) throw new EngineException($"unsupported KV dtype {dtype}");
        PageCount = pageCount;
        Layout = new KvPoolLayout(kvHeads, pageSize, headDim, dtype);
        Keys = backend.Allocate(dtype, ElementsPerPage * pageCount);
        Values = backend.Allocate(dtype, ElementsPerPage * pageCount);
    }

    public int PageCount { get; }
    /// <summary>The pool's shape: where each (page, KV head, slot) lives.</summary>
    public KvPoolLayout Layout { get; }
    public int KvHeads => Layout.KvHeads;
    public int PageSize => Layout.PageSize;
    public int HeadDim => Layout.HeadDim;
    public DType DType => Layout.DType;
    public DeviceArray Keys { get; }
    public DeviceArray Values { get; }

    /// <summary>Elements of one page of keys (or values): kvHeads * pageSize * headDim.</summary>
    public long ElementsPerPage => Layout.ElementsPerPage;
    /// <summary>Bytes of one page, keys and values together.</summary>
    public long BytesPerPage => 2 * ElementsPerPage * DTypes.SizeOf(DType);

    public static long BytesPerPageFor(int kvHeads, int pageSize, int headDim, DType dtype) =>
        2L * kvHeads * pageSize * headDim * DTypes.SizeOf(dtype);

    public void Dispose() { Keys.Dispose(); Values.Dispose(); }
}
