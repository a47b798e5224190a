using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// RMSNorm: output[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight. One group per row: the
/// sum of squares is a group reduction; each thread then scales the elements it read (so x and
/// output may alias).
/// </summary>
public sealed partial class IlgpuBackend
{
    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void RmsNormKernel<TW, TF>(ArrayView<float> x, ArrayView<TW> weight, ArrayView<float> output, int dim, float eps)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        long rowBase = (long)Grid.IdxX * dim;
        float sum = 0f;
        for (int i = Group.IdxX; i < dim; i += Group.DimX)
        {
            float v = x[rowBase + i];
            sum += v * v;
        }
        sum = GroupExtensions.AllReduce<float, AddFloat>(sum);
        float inverse = XMath.Rsqrt(sum / dim + eps);
        for (int i = Group.IdxX; i < dim; i += Group.DimX)
            output[rowBase + i] = x[rowBase + i] * inverse * default(TF).Widen(weight[i]);
    }

    public void RmsNorm(DeviceArray x, DeviceArray weight, DeviceArray output, int rows, int dim, float eps)
    {
        Require(dim > 0 && weight.Length >= dim, "RMSNorm weight shorter than dim");
        Require(x.DType == DType.F32 && output.DType == DType.F32, "RMSNorm activations are F32");
        Require(x.Length >= (long)rows * dim && output.Length >= (long)rows * dim, "RMSNorm arrays shorter than rows * dim");
        if (rows == 0) return;
        var config = new KernelConfig(rows, GroupSize);
        switch (weight.DType)
        {
            case DType.F32: Kernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, int, float>(RmsNormKernel<float, F32Format>)(config, ViewOf<float>(x), ViewOf<float>(weight), ViewOf<float>(output), dim, eps); break;
            case DType.F16: Kernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, float>(RmsNormKernel<ushort, F16Format>)(config, ViewOf<float>(x), ViewOf<ushort>(weight), ViewOf<float>(output), dim, eps); break;
            case DType.BF16: Kernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, float>(RmsNormKernel<ushort, BF16Format>)(config, ViewOf<float>(x), ViewOf<ushort>(weight), ViewOf<float>(output), dim, eps); break;
            default: throw new ArgumentException($"RMSNorm weight dtype {weight.DType} is not a weight dtype");
        }
    }
}
