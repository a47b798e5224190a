using ILGPU;
using ILGPU.Runtime.Cuda;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The tensor-core instructions as inline PTX (sm_80 and later; CUDA only). Shared addresses are offsets from
/// ILGPU's dynamic shared allocation (`__dyn_shared_alloca`, the kernel's only shared memory); global sources
/// are device addresses passed in by the host (ILGPU kernels cannot take an element's address).
/// </summary>
internal readonly struct PtxMatrixCoreOps : IMatrixCoreOps
{
    public int ScratchInts(int threads) => 0;

    public void Begin(ArrayView<int> scratch) { }

    private static uint SharedAddress(int tileIndex)
    {
        CudaAsm.Emit("mov.u32 %0, __dyn_shared_alloca;", out uint tilesBase);
        return tilesBase + (uint)tileIndex * 2u;
    }

    public void CopyAsync16(ArrayView<ushort> tiles, int tileIndex, int sourceId, long sourceAddress, long sourceIndex, bool inBounds, ArrayView<int> scratch)
    {
        uint target = SharedAddress(tileIndex);
        CudaAsm.Emit("cvta.to.global.u64 %0, %1;", out long global, sourceAddress + (inBounds ? sourceIndex * 2 : 0));
        // src-size 0 reads nothing and fills the 16 bytes with zeros (tile edges).
        CudaAsm.Emit("cp.async.cg.shared.global [%0], [%1], 16, %2;", target, global, inBounds ? 16u : 0u);
    }

    public void CommitGroup(ArrayView<int> scratch) => CudaAsm.Emit("cp.async.commit_group;");

    public void WaitGroup(int pending, ArrayView<ushort> tiles, ArrayView<ushort> source0, ArrayView<ushort> source1, ArrayView<int> scratch)
    {
        // The count is an immediate: waiting for more groups than asked is always correct.
        if (pending <= 0) CudaAsm.Emit("cp.async.wait_group 0;");
        else if (pending == 1) CudaAsm.Emit("cp.async.wait_group 1;");
        else CudaAsm.Emit("cp.async.wait_group 2;");
    }

    public Fragment4 LoadMatrixX4(ArrayView<ushort> tiles, int rowIndex, ArrayView<int> scratch)
    {
        Output<uint> r0 = default, r1 = default, r2 = default, r3 = default;
        Input<uint> address = SharedAddress(rowIndex);
        CudaAsm.EmitRef("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];", ref r0, ref r1, ref r2, ref r3, ref address);
        return new Fragment4 { R0 = r0.Value, R1 = r1.Value, R2 = r2.Value, R3 = r3.Value };
    }

    public MmaTile Mma<TM>(MmaTile c, Fragment4 a, uint b0, uint b1, ArrayView<int> scratch) where TM : struct, IMmaFormat =>
        default(TM).HardwareMma(c, a, b0, b1);
}
