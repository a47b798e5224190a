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
        int kvDim = pool.KvHeads * pool.HeadDim;
        Require(keys, DType.F32, (long)rows * kvDim, nameof(keys));
        Require(values, DType.F32, (long)rows * kvDim, nameof(values));
        int* pages = CheckedPageTable(pool, pageTable, startSlot + rows);
        float* k = PointerOf<float>(keys), v = PointerOf<float>(values);
        void* kPool = PointerOf(pool.Keys), vPool = PointerOf(pool.Values);
        ForRanges(rows, 16, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                int slot = startSlot + (int)r;
                int page = pages[slot / pool.PageSize];
                for (int h = 0; h < pool.KvHeads; h++)
                {
                    long dst = pool.Offset(page, h, slot % pool.PageSize);
                    long src = r * kvDim + (long)h * pool.HeadDim;
                    ConvertRow(pool.DType, k + src, kPool, dst, pool.HeadDim);
                    ConvertRow(pool.DType, v + src, vPool, dst, pool.HeadDim);
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
        for (int i = 0; i < pagesNeeded; i++)
            if ((uint)pages[i] >= (uint)pool.PageCount)
                throw new ArgumentException($"page table entry {i} is {pages[i]}, outside the pool's {pool.PageCount} pages");
        return pages;
    }
}
