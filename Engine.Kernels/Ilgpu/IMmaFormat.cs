using ILGPU.Runtime.Cuda;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// A 16-bit input type of the tensor-core GEMM (bf16 or f16): how F32 activations are narrowed when staged,
/// how an element widens (for the emulation and the bias), and the hardware `mma.sync` for that type.
/// </summary>
internal interface IMmaFormat
{
    ushort Narrow(float value);
    float Widen(ushort value);

    /// <summary>D = A * B + C for one m16n8k16 tile on the tensor cores (inline PTX; CUDA only).</summary>
    MmaTile HardwareMma(MmaTile c, Fragment4 a, uint b0, uint b1);
}

/// <summary>bfloat16 inputs, F32 accumulation.</summary>
internal readonly struct BF16Mma : IMmaFormat
{
    public ushort Narrow(float value) => default(BF16Format).Narrow(value);
    public float Widen(ushort value) => default(BF16Format).Widen(value);

    public MmaTile HardwareMma(MmaTile c, Fragment4 a, uint b0, uint b1)
    {
        Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
        Input<uint> a0 = a.R0, a1 = a.R1, a2 = a.R2, a3 = a.R3, x0 = b0, x1 = b1;
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref x0, ref x1);
        return new MmaTile { C0 = d0.Value, C1 = d1.Value, C2 = d2.Value, C3 = d3.Value };
    }
}

/// <summary>IEEE binary16 inputs, F32 accumulation (activations beyond +-65504 become infinities when narrowed).</summary>
internal readonly struct F16Mma : IMmaFormat
{
    public ushort Narrow(float value) => HalfBits.FromFloat(value);
    public float Widen(ushort value) => HalfBits.ToFloat(value);

    public MmaTile HardwareMma(MmaTile c, Fragment4 a, uint b0, uint b1)
    {
        Ref<float> d0 = c.C0, d1 = c.C1, d2 = c.C2, d3 = c.C3;
        Input<uint> a0 = a.R0, a1 = a.R1, a2 = a.R2, a3 = a.R3, x0 = b0, x1 = b1;
        CudaAsm.EmitRef("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};",
            ref d0, ref d1, ref d2, ref d3, ref a0, ref a1, ref a2, ref a3, ref x0, ref x1);
        return new MmaTile { C0 = d0.Value, C1 = d1.Value, C2 = d2.Value, C3 = d3.Value };
    }
}
