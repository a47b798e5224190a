using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Elementwise F32 ops, grid-stride loops: SiLU-and-multiply (output = gate / (1 + e^-gate) * up, the
/// SwiGLU activation) and the residual add (x += y).
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance]
    internal static void SiluMulKernel(ArrayView<float> gate, ArrayView<float> up, ArrayView<float> output, long count)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < count; i += stride)
        {
            float g = gate[i];
            output[i] = g / (1f + XMath.Exp(-g)) * up[i];
        }
    }

    [KernelInstance]
    internal static void AddKernel(ArrayView<float> x, ArrayView<float> y, long count)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < count; i += stride)
            x[i] += y[i];
    }

    public void SiluMul(DeviceArray gate, DeviceArray up, DeviceArray output, long count)
    {
        Require(gate.DType == DType.F32 && up.DType == DType.F32 && output.DType == DType.F32, "SiLU*mul works on F32");
        Require(gate.Length >= count && up.Length >= count && output.Length >= count, "SiLU*mul arrays shorter than count");
        if (count == 0) return;
        Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, long>(SiluMulKernel)(GridStride(count), ViewOf<float>(gate), ViewOf<float>(up), ViewOf<float>(output), count);
    }

    public void Add(DeviceArray x, DeviceArray y, long count)
    {
        Require(x.DType == DType.F32 && y.DType == DType.F32, "add works on F32");
        Require(x.Length >= count && y.Length >= count, "add arrays shorter than count");
        if (count == 0) return;
        Kernel<ArrayView<float>, ArrayView<float>, long>(AddKernel)(GridStride(count), ViewOf<float>(x), ViewOf<float>(y), count);
    }
}
