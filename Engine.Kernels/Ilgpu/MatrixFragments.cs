namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Four 32-bit registers of one lane's share of a warp-wide matrix fragment: what `ldmatrix .x4` returns, and
/// mma.m16n8k16's A operand. Each register holds two 16-bit elements, the lower-indexed one in the low half.
/// </summary>
internal struct Fragment4
{
    public uint R0, R1, R2, R3;
}

/// <summary>One lane's four F32 accumulators of an m16n8 C/D tile (rows groupID and groupID + 8, columns 2 threadID_in_group + 0/1).</summary>
internal struct MmaTile
{
    public float C0, C1, C2, C3;
}
