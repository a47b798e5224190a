using Engine.Core;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Decode attention in one launch: the split kernel's groups (flash-decoding, <see cref="DecodeSplit"/>) each write their
/// partial, then count themselves in per (row, head) arrival counters; the last group of a (row, head) to arrive merges
/// its splits (<see cref="CombineSplits"/>) and puts the counter back to zero for the next launch (so nothing is reset
/// from the host and the step stays replayable). A thin wrapper around the split and combine code: the fast kernel,
/// self-checked on first use against the two-launch split + combine it fuses.
/// </summary>
public sealed partial class IlgpuBackend
{
    internal static readonly FastKernel OneLaunchDecodeAttention = FastKernel.Register("DecodeAttentionOneLaunchKernel", "DecodeAttentionKernel+CombineDecodeKernel", 1e-5,
        (backend, random) => backend.CompareDecodeAttention(random));

    /// <summary>Arrival counters, one per (decode row, KV head, head chunk), zero between launches.</summary>
    private DeviceArray? _arrivals;
    /// <summary>Set by the self-check to run one path or the other; null: the self-checked choice.</summary>
    private bool? _oneLaunchOverride;

    [KernelInstance(typeof(float), typeof(F32Format), typeof(F32KvPack))]
    [KernelInstance(typeof(ushort), typeof(F16Format), typeof(F16KvPack))]
    [KernelInstance(typeof(ushort), typeof(BF16Format), typeof(BF16KvPack))]
    internal static void DecodeAttentionOneLaunchKernel<TP, TF, TK>(ArrayView<float> q, ArrayView<TP> keys, ArrayView<TP> values, ArrayView<int> pageTables,
        ArrayView<int> rowSequence, ArrayView<int> rowSlot, ArrayView<float> partials, ArrayView<int> arrivals, ArrayView<float> output, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        if (!DecodeSplit<TP, TF, TK>(q, keys, values, pageTables, rowSequence, rowSlot, partials, p, out int row, out int headStart, out int headCount)) return;
        var isLast = SharedMemory.Allocate<int>(1);
        int tile = Grid.IdxX / p.Splits;
        MemoryFence.DeviceLevel(); // this group's partial is visible before it counts itself
        Group.Barrier();
        if (Group.IdxX == 0) isLast[0] = Atomic.Add(ref arrivals[tile], 1) == p.Splits - 1 ? 1 : 0;
        Group.Barrier();
        if (isLast[0] == 0) return;
        MemoryFence.DeviceLevel();
        for (int head = headStart; head < headStart + headCount; head++)
            CombineSplits(partials, (row - p.FirstDecodeRow) * p.Heads + head, row, head, output, p);
        if (Group.IdxX == 0) arrivals[tile] = 0;
    }

    /// <summary>Whether decode attention runs in one launch (the self-checked choice, unless the self-check itself is choosing).</summary>
    private bool DecodeAttentionInOneLaunch => _oneLaunchOverride ?? UseFast(OneLaunchDecodeAttention);

    private void LaunchDecodeAttentionOneLaunch(KvPool pool, KernelConfig config, DeviceArray q, DeviceArray pageTables, ArrayView<int> rowSequence,
        ArrayView<int> rowSlot, DeviceArray partials, DeviceArray output, int tiles, AttentionParams p)
    {
        if (_arrivals is null || _arrivals.Length < tiles)
        {
            _arrivals?.Dispose();
            _arrivals = Allocate(DType.I32, Math.Max(tiles, 256));
            Upload<int>(_arrivals, new int[_arrivals.Length]);
        }
        switch (pool.DType)
        {
            case DType.F32: LaunchDecodeAttentionOneLaunchOf<float, F32Format, F32KvPack>(pool, config, q, pageTables, rowSequence, rowSlot, partials, output, p); break;
            case DType.F16: LaunchDecodeAttentionOneLaunchOf<ushort, F16Format, F16KvPack>(pool, config, q, pageTables, rowSequence, rowSlot, partials, output, p); break;
            case DType.BF16: LaunchDecodeAttentionOneLaunchOf<ushort, BF16Format, BF16KvPack>(pool, config, q, pageTables, rowSequence, rowSlot, partials, output, p); break;
            default: throw new ArgumentException($"KV pool dtype {pool.DType} is not supported");
        }
    }

    private void LaunchDecodeAttentionOneLaunchOf<TP, TF, TK>(KvPool pool, KernelConfig config, DeviceArray q, DeviceArray pageTables, ArrayView<int> rowSequence,
        ArrayView<int> rowSlot, DeviceArray partials, DeviceArray output, AttentionParams p)
        where TP : unmanaged where TF : struct, IElementFormat<TP> where TK : struct, IKvPackFormat
    {
        Kernel<ArrayView<float>, ArrayView<TP>, ArrayView<TP>, ArrayView<int>, ArrayView<int>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, AttentionParams>(
            DecodeAttentionOneLaunchKernel<TP, TF, TK>)(config, ViewOf<float>(q), ViewOf<TP>(pool.Keys), ViewOf<TP>(pool.Values), ViewOf<int>(pageTables),
            rowSequence, rowSlot, ViewOf<float>(partials), ViewOf<int>(_arrivals!), ViewOf<float>(output), p);
    }

    /// <summary>
    /// Self-check of the one-launch decode attention against split + combine: one sequence's decode row over 100 slots
    /// of a bf16 pool in shuffled pages, several splits; then the same twice more (the counters must have gone back to zero).
    /// </summary>
    internal double CompareDecodeAttention(Random random)
    {
        const int kvHeads = 2, heads = 4, headDim = 16, pageSize = 8, length = 100, pages = (length + pageSize - 1) / pageSize;
        var shape = new AttentionShape(heads, kvHeads, headDim);
        using var pool = new KvPool(this, pages, kvHeads, pageSize, headDim, DType.BF16);
        using var keys = RandomArray(DType.BF16, (int)pool.Keys.Length, random);
        using var values = RandomArray(DType.BF16, (int)pool.Values.Length, random);
        using var q = RandomArray(DType.F32, heads * headDim, random);
        using var table = Allocate(DType.I32, pages);
        Upload<int>(table, Enumerable.Range(0, pages).OrderBy(_ => random.Next()).ToArray());
        var copy = new ushort[pool.Keys.Length];
        Download<ushort>(keys, copy); Upload<ushort>(pool.Keys, copy);
        Download<ushort>(values, copy); Upload<ushort>(pool.Values, copy);
        double worst = 0;
        try
        {
            for (int round = 0; round < 3; round++)
            {
                double error = CompareOutputs(heads * headDim,
                    output => { _oneLaunchOverride = true; Attention(q, pool, table, length - round, output, 1, shape); },
                    output => { _oneLaunchOverride = false; Attention(q, pool, table, length - round, output, 1, shape); });
                if (!(error <= worst)) worst = error;
            }
        }
        finally { _oneLaunchOverride = null; }
        return worst;
    }
}
