using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// One warp's 64x32 block of a tensor-core GEMM's output as sixteen m16n8 accumulator tiles: Tmn covers rows
/// 16 m .. 16 m + 15 and columns 8 n .. 8 n + 7 of the block. Named fields, not an array, so they stay in registers.
/// </summary>
internal struct WarpAccumulators
{
    public MmaTile T00, T01, T02, T03, T10, T11, T12, T13, T20, T21, T22, T23, T30, T31, T32, T33;

    /// <summary>One k16 step: A fragments of the four row tiles, B fragments of column tiles 0-1 (b01) and 2-3 (b23).</summary>
    public WarpAccumulators Step<TM, TOps>(Fragment4 a0, Fragment4 a1, Fragment4 a2, Fragment4 a3, Fragment4 b01, Fragment4 b23, ArrayView<int> scratch)
        where TM : struct, IMmaFormat where TOps : struct, IMatrixCoreOps
    {
        var ops = default(TOps);
        var r = this;
        r.T00 = ops.Mma<TM>(T00, a0, b01.R0, b01.R1, scratch);
        r.T01 = ops.Mma<TM>(T01, a0, b01.R2, b01.R3, scratch);
        r.T02 = ops.Mma<TM>(T02, a0, b23.R0, b23.R1, scratch);
        r.T03 = ops.Mma<TM>(T03, a0, b23.R2, b23.R3, scratch);
        r.T10 = ops.Mma<TM>(T10, a1, b01.R0, b01.R1, scratch);
        r.T11 = ops.Mma<TM>(T11, a1, b01.R2, b01.R3, scratch);
        r.T12 = ops.Mma<TM>(T12, a1, b23.R0, b23.R1, scratch);
        r.T13 = ops.Mma<TM>(T13, a1, b23.R2, b23.R3, scratch);
        r.T20 = ops.Mma<TM>(T20, a2, b01.R0, b01.R1, scratch);
        r.T21 = ops.Mma<TM>(T21, a2, b01.R2, b01.R3, scratch);
        r.T22 = ops.Mma<TM>(T22, a2, b23.R0, b23.R1, scratch);
        r.T23 = ops.Mma<TM>(T23, a2, b23.R2, b23.R3, scratch);
        r.T30 = ops.Mma<TM>(T30, a3, b01.R0, b01.R1, scratch);
        r.T31 = ops.Mma<TM>(T31, a3, b01.R2, b01.R3, scratch);
        r.T32 = ops.Mma<TM>(T32, a3, b23.R0, b23.R1, scratch);
        r.T33 = ops.Mma<TM>(T33, a3, b23.R2, b23.R3, scratch);
        return r;
    }
}
