using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Rotate-half RoPE in place on x [rows, heads, headDim]: for j &lt; headDim/2 and
/// angle = positions[r] * invFreq[j], the pair (x[j], x[j + half]) is rotated by angle. One thread per pair.
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance]
    internal static void RopeKernel(ArrayView<float> x, ArrayView<int> positions, ArrayView<float> invFreq, int rows, int heads, int headDim)
    {
        int half = headDim / 2;
        long pairs = (long)rows * heads * half;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long p = Grid.GlobalIndex.X; p < pairs; p += stride)
        {
            long vector = p / half;           // (row, head)
            int j = (int)(p - vector * half);
            long row = vector / heads;
            float angle = ReduceAngle(positions[row] * invFreq[j]);
            float cos = XMath.Cos(angle), sin = XMath.Sin(angle);
            long a = vector * headDim + j;
            float x1 = x[a], x2 = x[a + half];
            x[a] = x1 * cos - x2 * sin;
            x[a + half] = x2 * cos + x1 * sin;
        }
    }

    /// <summary>
    /// angle mod 2 pi in [-pi, pi] (Cody-Waite, 2 pi split in three floats): device sin/cos may be
    /// approximations that are only accurate near zero, and positions make angles of thousands of radians.
    /// </summary>
    private static float ReduceAngle(float angle)
    {
        const float TwoPiHigh = 6.28125f, TwoPiMid = 1.93530717e-3f, TwoPiLow = 1.0253132e-11f;
        float turns = XMath.Round(angle * 0.15915494f);
        return ((angle - turns * TwoPiHigh) - turns * TwoPiMid) - turns * TwoPiLow;
    }

    public void Rope(DeviceArray x, DeviceArray positions, DeviceArray invFreq, int rows, int heads, int headDim)
    {
        Require(headDim > 0 && headDim % 2 == 0, "RoPE head dimension must be even");
        Require(x.DType == DType.F32 && x.Length >= (long)rows * heads * headDim, "RoPE x shorter than rows * heads * headDim");
        Require(positions.DType == DType.I32 && positions.Length >= rows, "RoPE needs one I32 position per row");
        Require(invFreq.DType == DType.F32 && invFreq.Length >= headDim / 2, "RoPE needs headDim/2 F32 inverse frequencies");
        if (rows == 0) return;
        Kernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int, int, int>(RopeKernel)(
            GridStride((long)rows * heads * (headDim / 2)), ViewOf<float>(x), ViewOf<int>(positions), ViewOf<float>(invFreq), rows, heads, headDim);
    }
}
