using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The three warp-level instructions the tensor-core GEMM is written against: `cp.async` (16-byte global to
/// shared copies in commit groups), `ldmatrix .x4` and `mma.sync m16n8k16`. <see cref="PtxMatrixCoreOps"/> emits
/// them as inline PTX (CUDA); <see cref="EmulatedMatrixCoreOps"/> implements them in C# with the PTX ISA's
/// fragment layouts on any accelerator, so the same kernel body (tiling, fragment mapping, pipeline order) runs
/// and is tested on ILGPU's CPU accelerator. Only the instructions themselves stay untested without a GPU.
/// <para>
/// <c>tiles</c> is the kernel's dynamic shared memory (<c>SharedMemory.GetDynamic&lt;ushort&gt;()</c>, indices in
/// 16-bit elements from its start); <c>scratch</c> is shared memory the emulation needs (<see cref="ScratchInts"/>;
/// the hardware ops never touch it). Every lane of every warp of the group calls each op the same number of
/// times (the emulation synchronises through warp barriers).
/// </para>
/// </summary>
internal interface IMatrixCoreOps
{
    /// <summary>Shared ints of scratch a group of <paramref name="threads"/> needs (0 on hardware).</summary>
    int ScratchInts(int threads);

    /// <summary>Called by every thread once before any other op (the emulation clears its copy queue).</summary>
    void Begin(ArrayView<int> scratch);

    /// <summary>
    /// Starts copying 8 elements (16 bytes) from source (<paramref name="sourceId"/> 0 or 1: which of the two
    /// sources later passed to <see cref="WaitGroup"/>; element 0 at device address <paramref name="sourceAddress"/>)
    /// at <paramref name="sourceIndex"/> to tiles[<paramref name="tileIndex"/>]; zeros when not <paramref name="inBounds"/>.
    /// The data is there only after a <see cref="WaitGroup"/> that covers its commit group, and a group barrier.
    /// </summary>
    void CopyAsync16(ArrayView<ushort> tiles, int tileIndex, int sourceId, long sourceAddress, long sourceIndex, bool inBounds, ArrayView<int> scratch);

    /// <summary>Closes the copies started since the last commit into one group.</summary>
    void CommitGroup(ArrayView<int> scratch);

    /// <summary>Waits until at most <paramref name="pending"/> of this thread's committed groups are still in flight.</summary>
    void WaitGroup(int pending, ArrayView<ushort> tiles, ArrayView<ushort> source0, ArrayView<ushort> source1, ArrayView<int> scratch);

    /// <summary>
    /// `ldmatrix.sync.aligned.m8n8.x4.shared.b16`: lane L gives the start of row L % 8 of matrix L / 8
    /// (<paramref name="rowIndex"/>, 16-byte aligned); register j of lane L receives elements (L / 4, 2 (L % 4)) and
    /// (L / 4, 2 (L % 4) + 1) of matrix j.
    /// </summary>
    Fragment4 LoadMatrixX4(ArrayView<ushort> tiles, int rowIndex, ArrayView<int> scratch);

    /// <summary>`mma.sync.aligned.m16n8k16.row.col.f32.{bf16|f16}`: D = A B + C for this lane's fragments.</summary>
    MmaTile Mma<TM>(MmaTile c, Fragment4 a, uint b0, uint b1, ArrayView<int> scratch) where TM : struct, IMmaFormat;
}
