using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The tensor-core instructions in C# on any accelerator (tests run them on ILGPU's CPU accelerator), following the
/// PTX ISA ("Matrix Fragments for mma.m16n8k16 with floating point type", "Warp-level matrix load instruction:
/// ldmatrix", "cp.async"): lanes exchange their fragments through shared scratch between warp barriers, exactly as
/// the fragment tables place each element, so a wrong fragment mapping or tile index in the GEMM gives wrong
/// numbers here. cp.async is modelled as really asynchronous: a copy is queued per thread and lands only when a
/// wait_group covers its commit group, so reading a pipeline stage before waiting for it also gives wrong numbers.
/// <para>Scratch layout (ints): per thread a copy queue (count, next group, then entries of four ints: tile index,
/// source index low and high, flags = source | in-bounds &lt;&lt; 1 | group &lt;&lt; 2); then per warp 32 ldmatrix row
/// indices, A (16x16) and B (16x8, k-major) as float bits.</para>
/// </summary>
internal readonly struct EmulatedMatrixCoreOps : IMatrixCoreOps
{
    /// <summary>Copies a thread may have in flight: the GEMM issues at most 4 per stage and keeps at most 4 stages.</summary>
    private const int MaxQueuedCopies = 32;
    private const int QueueInts = 2 + MaxQueuedCopies * 4;
    private const int WarpInts = 32 + 16 * 16 + 16 * 8;

    public int ScratchInts(int threads) => threads * QueueInts + threads / 32 * WarpInts;

    public void Begin(ArrayView<int> scratch)
    {
        int q = QueueBase();
        scratch[q] = 0; // queued copies
        scratch[q + 1] = 0; // the open commit group
    }

    private static int QueueBase() => Group.IdxX * QueueInts;

    private static int WarpBase() => Group.DimX * QueueInts + Group.IdxX / 32 * WarpInts;

    public void CopyAsync16(ArrayView<ushort> tiles, int tileIndex, int sourceId, long sourceAddress, long sourceIndex, bool inBounds, ArrayView<int> scratch)
    {
        int q = QueueBase();
        int count = scratch[q];
        int entry = q + 2 + count * 4;
        scratch[entry] = tileIndex;
        scratch[entry + 1] = (int)(sourceIndex & 0xFFFF_FFFFL);
        scratch[entry + 2] = (int)(sourceIndex >> 32);
        scratch[entry + 3] = sourceId | (inBounds ? 2 : 0) | (scratch[q + 1] << 2);
        scratch[q] = count + 1;
    }

    public void CommitGroup(ArrayView<int> scratch) => scratch[QueueBase() + 1]++;

    public void WaitGroup(int pending, ArrayView<ushort> tiles, ArrayView<ushort> source0, ArrayView<ushort> source1, ArrayView<int> scratch)
    {
        int q = QueueBase();
        int count = scratch[q];
        int landBefore = scratch[q + 1] - (pending < 0 ? 0 : pending); // groups below this one complete now
        int kept = 0;
        for (int i = 0; i < count; i++)
        {
            int entry = q + 2 + i * 4;
            int tileIndex = scratch[entry], flags = scratch[entry + 3];
            long sourceIndex = (uint)scratch[entry + 1] | ((long)scratch[entry + 2] << 32);
            if ((flags >> 2) < landBefore)
            {
                for (int e = 0; e < 8; e++)
                {
                    ushort value = 0;
                    if ((flags & 2) != 0) value = (flags & 1) == 0 ? source0[sourceIndex + e] : source1[sourceIndex + e];
                    tiles[tileIndex + e] = value;
                }
                continue;
            }
            int keptEntry = q + 2 + kept * 4;
            scratch[keptEntry] = tileIndex;
            scratch[keptEntry + 1] = scratch[entry + 1];
            scratch[keptEntry + 2] = scratch[entry + 2];
            scratch[keptEntry + 3] = flags;
            kept++;
        }
        scratch[q] = kept;
    }

    public Fragment4 LoadMatrixX4(ArrayView<ushort> tiles, int rowIndex, ArrayView<int> scratch)
    {
        int w = WarpBase(), lane = Group.IdxX % 32;
        scratch[w + lane] = rowIndex;
        Warp.Barrier();
        int column = 2 * (lane % 4), row = lane / 4;
        var result = new Fragment4
        {
            R0 = Pair(tiles, scratch[w + 0 * 8 + row] + column),
            R1 = Pair(tiles, scratch[w + 1 * 8 + row] + column),
            R2 = Pair(tiles, scratch[w + 2 * 8 + row] + column),
            R3 = Pair(tiles, scratch[w + 3 * 8 + row] + column),
        };
        Warp.Barrier(); // the row indices are rewritten by the next call
        return result;
    }

    private static uint Pair(ArrayView<ushort> tiles, int index) => tiles[index] | ((uint)tiles[index + 1] << 16);

    public MmaTile Mma<TM>(MmaTile c, Fragment4 a, uint b0, uint b1, ArrayView<int> scratch) where TM : struct, IMmaFormat
    {
        int w = WarpBase(), lane = Group.IdxX % 32;
        int aBase = w + 32, bBase = aBase + 16 * 16;
        int g = lane / 4, t = lane % 4; // groupID, threadID_in_group
        // A (row-major 16x16): a0 = (g, 2t..2t+1), a1 = (g+8, 2t..), a2 = (g, 2t+8..), a3 = (g+8, 2t+8..).
        PutPair<TM>(scratch, aBase + g * 16 + 2 * t, a.R0);
        PutPair<TM>(scratch, aBase + (g + 8) * 16 + 2 * t, a.R1);
        PutPair<TM>(scratch, aBase + g * 16 + 2 * t + 8, a.R2);
        PutPair<TM>(scratch, aBase + (g + 8) * 16 + 2 * t + 8, a.R3);
        // B (16x8, "col": element (k, n) at k * 8 + n): b0 = (k 2t..2t+1, n g), b1 = (k 2t+8..2t+9, n g).
        PutColumnPair<TM>(scratch, bBase + 2 * t * 8 + g, b0);
        PutColumnPair<TM>(scratch, bBase + (2 * t + 8) * 8 + g, b1);
        Warp.Barrier();
        // C/D: c0 = (g, 2t), c1 = (g, 2t+1), c2 = (g+8, 2t), c3 = (g+8, 2t+1).
        var d = new MmaTile
        {
            C0 = c.C0 + Dot(scratch, aBase + g * 16, bBase + 2 * t),
            C1 = c.C1 + Dot(scratch, aBase + g * 16, bBase + 2 * t + 1),
            C2 = c.C2 + Dot(scratch, aBase + (g + 8) * 16, bBase + 2 * t),
            C3 = c.C3 + Dot(scratch, aBase + (g + 8) * 16, bBase + 2 * t + 1),
        };
        Warp.Barrier(); // A and B are rewritten by the next call
        return d;
    }

    private static void PutPair<TM>(ArrayView<int> scratch, int index, uint pair) where TM : struct, IMmaFormat
    {
        scratch[index] = (int)Interop.FloatAsInt(default(TM).Widen((ushort)(pair & 0xFFFFu)));
        scratch[index + 1] = (int)Interop.FloatAsInt(default(TM).Widen((ushort)(pair >> 16)));
    }

    /// <summary>The two elements of a B register are consecutive in k: rows k and k + 1 of column n.</summary>
    private static void PutColumnPair<TM>(ArrayView<int> scratch, int index, uint pair) where TM : struct, IMmaFormat
    {
        scratch[index] = (int)Interop.FloatAsInt(default(TM).Widen((ushort)(pair & 0xFFFFu)));
        scratch[index + 8] = (int)Interop.FloatAsInt(default(TM).Widen((ushort)(pair >> 16)));
    }

    /// <summary>Row of A (16 floats from aRow) times column of B (stride 8 from bColumn).</summary>
    private static float Dot(ArrayView<int> scratch, int aRow, int bColumn)
    {
        float sum = 0f;
        for (int k = 0; k < 16; k++)
            sum += Interop.IntAsFloat((uint)scratch[aRow + k]) * Interop.IntAsFloat((uint)scratch[bColumn + k * 8]);
        return sum;
    }
}
