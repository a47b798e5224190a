using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// RoPE with the KV write (<see cref="IBackend.RopeKvWrite"/>): one thread per (row, head, pair j &lt; headDim/2) over
/// the q heads then the KV heads. A q pair is rotated in place; a k pair is rotated (kept in k too) and stored with the
/// value pair at the row's slot through its sequence's page table, narrowed to the pool's dtype. One launch replaces
/// two RoPEs and a KV write.
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void RopeKvWriteKernel<TP, TF>(ArrayView<TP> poolKeys, ArrayView<TP> poolValues, ArrayView<int> pageTables, ArrayView<int> rowSequence,
        ArrayView<int> rowSlot, ArrayView<int> positions, ArrayView<float> invFreq, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, RopeKvWriteParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        int headDim = p.Kv.HeadDim, half = headDim / 2, kvHeads = p.Kv.KvHeads;
        long perRow = (long)(p.Heads + kvHeads) * half;
        long total = p.Rows.Rows * perRow;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
        {
            int row = (int)(i / perRow);
            int rest = (int)(i - row * perRow);
            int head = rest / half, j = rest - head * half;
            float angle = ReduceAngle(positions[row] * invFreq[j]);
            float cos = XMath.Cos(angle), sin = XMath.Sin(angle);
            if (head < p.Heads)
            {
                long a = ((long)row * p.Heads + head) * headDim + j;
                float x1 = q[a], x2 = q[a + half];
                q[a] = x1 * cos - x2 * sin;
                q[a + half] = x2 * cos + x1 * sin;
                continue;
            }
            int kvHead = head - p.Heads;
            long b = ((long)row * kvHeads + kvHead) * headDim + j;
            float k1 = k[b], k2 = k[b + half];
            float r1 = k1 * cos - k2 * sin, r2 = k2 * cos + k1 * sin;
            k[b] = r1;
            k[b + half] = r2;
            long slot = p.Kv.SlotOffset(p.Rows.Table(rowSequence, pageTables, row), kvHead, p.Rows.Slot(rowSlot, row)) + j;
            poolKeys[slot] = default(TF).Narrow(r1);
            poolKeys[slot + half] = default(TF).Narrow(r2);
            poolValues[slot] = default(TF).Narrow(v[b]);
            poolValues[slot + half] = default(TF).Narrow(v[b + half]);
        }
    }

    public void RopeKvWrite(DeviceArray q, DeviceArray k, DeviceArray v, DeviceArray positions, DeviceArray invFreq, KvPool pool, KvBatchLayer batch, int heads)
    {
        batch.Check(pool);
        int rows = batch.Rows, headDim = pool.HeadDim;
        Require(headDim > 0 && headDim % 2 == 0, "RoPE head dimension must be even");
        long kvElements = (long)rows * pool.KvHeads * headDim;
        Require(q.DType == DType.F32 && q.Length >= (long)rows * heads * headDim, "RoPE q shorter than rows * heads * headDim");
        Require(k.DType == DType.F32 && v.DType == DType.F32 && k.Length >= kvElements && v.Length >= kvElements, "KV write needs F32 keys and values [rows, kvHeads, headDim]");
        Require(positions.DType == DType.I32 && positions.Length >= rows, "RoPE needs one I32 position per row");
        Require(invFreq.DType == DType.F32 && invFreq.Length >= headDim / 2, "RoPE needs headDim/2 F32 inverse frequencies");
        if (rows == 0) return;
        var p = new RopeKvWriteParams { Kv = pool.Layout, Rows = KvRowMap.Of(batch), Heads = heads };
        var config = GridStride((long)rows * (heads + pool.KvHeads) * (headDim / 2));
        switch (pool.DType)
        {
            case DType.F32: RopeKvWriteOf<float, F32Format>(config, pool, batch, positions, invFreq, q, k, v, p); break;
            case DType.F16: RopeKvWriteOf<ushort, F16Format>(config, pool, batch, positions, invFreq, q, k, v, p); break;
            case DType.BF16: RopeKvWriteOf<ushort, BF16Format>(config, pool, batch, positions, invFreq, q, k, v, p); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }

    private void RopeKvWriteOf<TP, TF>(KernelConfig config, KvPool pool, KvBatchLayer batch, DeviceArray positions, DeviceArray invFreq,
        DeviceArray q, DeviceArray k, DeviceArray v, RopeKvWriteParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP>
    {
        Kernel<ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, RopeKvWriteParams>(
            RopeKvWriteKernel<TP, TF>)(config, ViewOf<TP>(pool.Keys), ViewOf<TP>(pool.Values), ViewOf<int>(batch.PageTables), ViewOf<int>(batch.RowSequence),
            ViewOf<int>(batch.RowSlot), ViewOf<int>(positions), ViewOf<float>(invFreq), ViewOf<float>(q), ViewOf<float>(k), ViewOf<float>(v), p);
    }
}
