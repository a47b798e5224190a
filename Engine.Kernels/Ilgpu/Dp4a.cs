using ILGPU.Runtime.Cuda;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The four-way int8 dot product with accumulate: c + sum over the four bytes i of a_i * b_i (signed). On CUDA
/// it is one `dp4a.s32.s32` instruction (inline PTX, sm_61 and later); elsewhere (OpenCL, the CPU simulator) the
/// same sum in plain integer operations, so the int8 kernels run and are tested everywhere. `CudaAsm.IsSupported`
/// is a constant in the PTX backend, so the other branch is compiled away there.
/// </summary>
public static class Dp4a
{
    public static int Dot(uint a, uint b, int c)
    {
        if (CudaAsm.IsSupported)
        {
            CudaAsm.Emit("dp4a.s32.s32 %0, %1, %2, %3;", out int result, (int)a, (int)b, c);
            return result;
        }
        return c + (sbyte)a * (sbyte)b + (sbyte)(a >> 8) * (sbyte)(b >> 8) + (sbyte)(a >> 16) * (sbyte)(b >> 16) + (sbyte)(a >> 24) * (sbyte)(b >> 24);
    }
}
