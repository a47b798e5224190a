using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>RMSNorm over rows, weight widened in registers.</summary>
public sealed unsafe partial class SimdBackend
{
    public void RmsNorm(DeviceArray x, DeviceArray weight, DeviceArray output, int rows, int dim, float eps)
    {
        if (dim <= 0) throw new ArgumentOutOfRangeException(nameof(dim));
        Require(x, DType.F32, (long)rows * dim, nameof(x));
        RequireWeightType(weight, nameof(weight));
        Require(weight, dim, nameof(weight));
        Require(output, DType.F32, (long)rows * dim, nameof(output));
        var kernel = new RmsNormKernel(this, PointerOf<float>(x), PointerOf(weight), PointerOf<float>(output), rows, dim, eps);
        KernelDispatch.Run(ref kernel, weight.DType);
    }

    private readonly struct RmsNormKernel(SimdBackend backend, float* x, void* weight, float* output, int rows, int dim, float eps) : ITypedKernel
    {
        public void Run<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType
        {
            float* px = x, po = output; void* w = weight; int d = dim; float e = eps;
            backend.ForRanges(rows, Math.Max(1, 4096 / d), [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
            {
                for (long r = start; r < end; r++)
                {
                    float* xr = px + r * d, outRow = po + r * d;
                    float meanSquare = TensorPrimitives.SumOfSquares(new ReadOnlySpan<float>(xr, d)) / d;
                    var inv = TVec.Splat(1f / MathF.Sqrt(meanSquare + e));
                    int i = 0;
                    for (; i <= d - TVec.Count; i += TVec.Count)
                        TVec.Store(TVec.Multiply(TVec.Multiply(TVec.LoadF32(xr + i), inv), TElem.Load<TVec>(w, i)), outRow + i);
                    float invScalar = 1f / MathF.Sqrt(meanSquare + e);
                    for (; i < d; i++) outRow[i] = xr[i] * invScalar * TElem.Read(w, i);
                }
            });
        }
    }
}
