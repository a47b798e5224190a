using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The fused decode products (<see cref="IBackend.RmsNormLinear"/>, <see cref="IBackend.LinearResidual"/>,
/// <see cref="IBackend.SiluMulLinearResidual"/>): one launch computes output[r, o] (=, or += for the residual)
/// scale * sum_i in(r, i) * weight[o, i] + bias[o], where the input prologue in(r, i) is x[r', i] (r' = rowIndices[r]
/// when gathered), x[r', i] * normWeight[i] (scale = the row's inverse RMS, which every warp recomputes with one warp
/// reduction over the row: cheaper than a launch) or silu(x[r, i]) * up[r, i]. Four output rows per warp, as the
/// plain matrix-vector kernels; a row of the step per group column. Two kernels: 16-byte loads of weights and x (fast,
/// self-checked on first use) and element loads (the portable twin). Up to <see cref="MaxFusedRows"/> rows and F32,
/// F16 or BF16 weights (norm weight and bias of the weight's dtype); anything else runs the plain ops (<see cref="FusedOps"/>).
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Most rows a fused product takes (a decode batch); more rows run the tiled matrix-matrix product unfused.</summary>
    internal const int MaxFusedRows = 8;

    internal static readonly FastKernel PackedFusedMatVec = FastKernel.Register("FusedMatVecPackedKernel", "FusedMatVecKernel", 1e-4,
        (backend, random) => backend.CompareFusedMatVec(random));

    private DeviceArray? _placeholderInts;

    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void FusedMatVecKernel<TW, TF>(ArrayView<float> x, ArrayView<float> up, ArrayView<TW> normWeight, ArrayView<TW> weight,
        ArrayView<TW> bias, ArrayView<float> output, ArrayView<int> rowIndices, FusedLinearParams p)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        int row = Grid.IdxX / p.GroupsPerRow;
        int o = ((Grid.IdxX - row * p.GroupsPerRow) * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx) * MatVecRowsPerWarp;
        if (o >= p.OutDim) return; // whole warps leave together
        long xBase = (long)(p.Gathered != 0 ? rowIndices[row] : row) * p.InDim;
        float scale = 1f;
        if (p.Input == (int)FusedInput.Norm)
        {
            float sum = 0f;
            for (int i = Warp.LaneIdx; i < p.InDim; i += Warp.WarpSize) sum += x[xBase + i] * x[xBase + i];
            scale = InverseRms(WarpExtensions.AllReduce<float, AddFloat>(sum), p);
        }
        long row0 = (long)o * p.InDim;
        long row1 = (long)XMath.Min(o + 1, p.OutDim - 1) * p.InDim;
        long row2 = (long)XMath.Min(o + 2, p.OutDim - 1) * p.InDim;
        long row3 = (long)XMath.Min(o + 3, p.OutDim - 1) * p.InDim;
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int i = Warp.LaneIdx; i < p.InDim; i += Warp.WarpSize)
        {
            float v = x[xBase + i];
            if (p.Input == (int)FusedInput.Norm) v *= default(TF).Widen(normWeight[i]);
            else if (p.Input == (int)FusedInput.SiluMul) v = Silu(v) * up[xBase + i];
            a0 += v * default(TF).Widen(weight[row0 + i]);
            a1 += v * default(TF).Widen(weight[row1 + i]);
            a2 += v * default(TF).Widen(weight[row2 + i]);
            a3 += v * default(TF).Widen(weight[row3 + i]);
        }
        StoreFusedRows<TW, TF>(a0, a1, a2, a3, scale, o, row, bias, output, p);
    }

    /// <summary>As <see cref="FusedMatVecKernel{TW, TF}"/> with 16-byte loads: x and up as packs of 4 floats, weights as packs of 4 or 8.</summary>
    [KernelInstance(typeof(float), typeof(F32Format), typeof(F32Pack))]
    [KernelInstance(typeof(ushort), typeof(F16Format), typeof(F16Pack))]
    [KernelInstance(typeof(ushort), typeof(BF16Format), typeof(BF16Pack))]
    internal static void FusedMatVecPackedKernel<TW, TF, TP>(ArrayView<Pack16> x, ArrayView<Pack16> up, ArrayView<TW> normWeight, ArrayView<Pack16> weight,
        ArrayView<TW> bias, ArrayView<float> output, ArrayView<int> rowIndices, FusedLinearParams p)
        where TW : unmanaged where TF : struct, IElementFormat<TW> where TP : struct, IPackFormat
    {
        int row = Grid.IdxX / p.GroupsPerRow;
        int o = ((Grid.IdxX - row * p.GroupsPerRow) * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx) * MatVecRowsPerWarp;
        if (o >= p.OutDim) return;
        int xPacksPerRow = p.InDim / 4;
        long xBase = (long)(p.Gathered != 0 ? rowIndices[row] : row) * xPacksPerRow;
        float scale = 1f;
        if (p.Input == (int)FusedInput.Norm)
        {
            float sum = 0f;
            for (int k = Warp.LaneIdx; k < xPacksPerRow; k += Warp.WarpSize) sum += SquareSum(x[xBase + k]);
            scale = InverseRms(WarpExtensions.AllReduce<float, AddFloat>(sum), p);
        }
        int perPack = default(TP).Count, xPacks = default(TP).XPacks;
        int packsPerRow = p.InDim / perPack;
        long row0 = (long)o * packsPerRow;
        long row1 = (long)XMath.Min(o + 1, p.OutDim - 1) * packsPerRow;
        long row2 = (long)XMath.Min(o + 2, p.OutDim - 1) * packsPerRow;
        long row3 = (long)XMath.Min(o + 3, p.OutDim - 1) * packsPerRow;
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int k = Warp.LaneIdx; k < packsPerRow; k += Warp.WarpSize)
        {
            Pack16 w0 = weight[row0 + k], w1 = weight[row1 + k], w2 = weight[row2 + k], w3 = weight[row3 + k];
            long at = xBase + (long)k * xPacks;
            Pack16 x0 = InputPack<TW, TF>(x, up, normWeight, at, (long)k * perPack, p.Input);
            Pack16 x1 = xPacks == 2 ? InputPack<TW, TF>(x, up, normWeight, at + 1, (long)k * perPack + 4, p.Input) : x0;
            a0 += default(TP).Dot(w0, x0, x1);
            a1 += default(TP).Dot(w1, x0, x1);
            a2 += default(TP).Dot(w2, x0, x1);
            a3 += default(TP).Dot(w3, x0, x1);
        }
        StoreFusedRows<TW, TF>(a0, a1, a2, a3, scale, o, row, bias, output, p);
    }

    private static float InverseRms(float sumOfSquares, FusedLinearParams p) => XMath.Rsqrt(sumOfSquares / p.InDim + p.Eps);

    private static float Silu(float v) => v / (1f + XMath.Exp(-v));

    private static float SquareSum(Pack16 v)
    {
        float a = Interop.IntAsFloat(v.A), b = Interop.IntAsFloat(v.B), c = Interop.IntAsFloat(v.C), d = Interop.IntAsFloat(v.D);
        return a * a + b * b + c * c + d * d;
    }

    /// <summary>Four input values (x pack at index <paramref name="at"/>, elements from <paramref name="element"/>) after the prologue.</summary>
    private static Pack16 InputPack<TW, TF>(ArrayView<Pack16> x, ArrayView<Pack16> up, ArrayView<TW> normWeight, long at, long element, int input)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        Pack16 v = x[at];
        if (input == (int)FusedInput.Norm)
        {
            v.A = Interop.FloatAsInt(Interop.IntAsFloat(v.A) * default(TF).Widen(normWeight[element]));
            v.B = Interop.FloatAsInt(Interop.IntAsFloat(v.B) * default(TF).Widen(normWeight[element + 1]));
            v.C = Interop.FloatAsInt(Interop.IntAsFloat(v.C) * default(TF).Widen(normWeight[element + 2]));
            v.D = Interop.FloatAsInt(Interop.IntAsFloat(v.D) * default(TF).Widen(normWeight[element + 3]));
        }
        else if (input == (int)FusedInput.SiluMul)
        {
            Pack16 u = up[at];
            v.A = Interop.FloatAsInt(Silu(Interop.IntAsFloat(v.A)) * Interop.IntAsFloat(u.A));
            v.B = Interop.FloatAsInt(Silu(Interop.IntAsFloat(v.B)) * Interop.IntAsFloat(u.B));
            v.C = Interop.FloatAsInt(Silu(Interop.IntAsFloat(v.C)) * Interop.IntAsFloat(u.C));
            v.D = Interop.FloatAsInt(Silu(Interop.IntAsFloat(v.D)) * Interop.IntAsFloat(u.D));
        }
        return v;
    }

    /// <summary>Reduces a warp's four dot products and lets its first lane store (or add) rows o..o+3 that exist.</summary>
    private static void StoreFusedRows<TW, TF>(float a0, float a1, float a2, float a3, float scale, int o, int row, ArrayView<TW> bias, ArrayView<float> output, FusedLinearParams p)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        a0 = WarpExtensions.Reduce<float, AddFloat>(a0);
        a1 = WarpExtensions.Reduce<float, AddFloat>(a1);
        a2 = WarpExtensions.Reduce<float, AddFloat>(a2);
        a3 = WarpExtensions.Reduce<float, AddFloat>(a3);
        if (!Warp.IsFirstLane) return;
        StoreFused<TW, TF>(a0 * scale, o, row, bias, output, p);
        StoreFused<TW, TF>(a1 * scale, o + 1, row, bias, output, p);
        StoreFused<TW, TF>(a2 * scale, o + 2, row, bias, output, p);
        StoreFused<TW, TF>(a3 * scale, o + 3, row, bias, output, p);
    }

    private static void StoreFused<TW, TF>(float value, int o, int row, ArrayView<TW> bias, ArrayView<float> output, FusedLinearParams p)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        if (o >= p.OutDim) return;
        if (p.HasBias != 0) value += default(TF).Widen(bias[o]);
        long at = (long)row * p.OutDim + o;
        output[at] = p.Accumulate != 0 ? output[at] + value : value;
    }

    public void RmsNormLinear(DeviceArray x, DeviceArray? rowIndices, DeviceArray normWeight, float eps, DeviceArray weight, DeviceArray? bias,
        DeviceArray output, DeviceArray normed, int rows, int inDim, int outDim)
    {
        var fused = new FusedLinearParams { Rows = rows, InDim = inDim, OutDim = outDim, Input = (int)FusedInput.Norm, Eps = eps };
        if (!TryFusedLinear(x, null, normWeight, rowIndices, weight, bias, output, fused))
            FusedOps.RmsNormLinear(this, x, rowIndices, normWeight, eps, weight, bias, output, normed, rows, inDim, outDim);
    }

    public void LinearResidual(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray residual, DeviceArray product, int rows, int inDim, int outDim)
    {
        var fused = new FusedLinearParams { Rows = rows, InDim = inDim, OutDim = outDim, Input = (int)FusedInput.Plain, Accumulate = 1 };
        if (!TryFusedLinear(x, null, null, null, weight, bias, residual, fused))
            FusedOps.LinearResidual(this, x, weight, bias, residual, product, rows, inDim, outDim);
    }

    public void SiluMulLinearResidual(DeviceArray gate, DeviceArray up, DeviceArray weight, DeviceArray? bias, DeviceArray residual, DeviceArray product,
        int rows, int inDim, int outDim)
    {
        var fused = new FusedLinearParams { Rows = rows, InDim = inDim, OutDim = outDim, Input = (int)FusedInput.SiluMul, Accumulate = 1 };
        if (!TryFusedLinear(gate, up, null, null, weight, bias, residual, fused))
            FusedOps.SiluMulLinearResidual(this, gate, up, weight, bias, residual, product, rows, inDim, outDim);
    }

    /// <summary>Launches the fused product when its kernels cover the case; false: the caller runs the plain ops.</summary>
    private bool TryFusedLinear(DeviceArray x, DeviceArray? up, DeviceArray? normWeight, DeviceArray? rowIndices, DeviceArray weight, DeviceArray? bias,
        DeviceArray output, FusedLinearParams p)
    {
        if (p.Rows < 1 || p.Rows > MaxFusedRows || p.OutDim < 1 || p.InDim < 1) return false;
        if (weight.DType is not (DType.F32 or DType.F16 or DType.BF16)) return false;
        if (bias is not null && bias.DType != weight.DType || normWeight is not null && normWeight.DType != weight.DType) return false;
        Require(x.DType == DType.F32 && output.DType == DType.F32 && (up is null || up.DType == DType.F32), "fused product activations are F32");
        Require(rowIndices is not null || x.Length >= (long)p.Rows * p.InDim, "fused product input shorter than rows * inDim");
        Require(up is null || up.Length >= (long)p.Rows * p.InDim, "fused product up shorter than rows * inDim");
        Require(weight.Length >= (long)p.OutDim * p.InDim, "fused product weight shorter than outDim * inDim");
        Require(output.Length >= (long)p.Rows * p.OutDim, "fused product output shorter than rows * outDim");
        Require(bias is null || bias.Length >= p.OutDim, "fused product bias shorter than outDim");
        Require(normWeight is null || normWeight.Length >= p.InDim, "fused product norm weight shorter than inDim");
        Require(rowIndices is null || rowIndices.DType == DType.I32 && rowIndices.Length >= p.Rows, "fused product row indices must be I32 [rows]");
        p.HasBias = bias is null ? 0 : 1;
        p.Gathered = rowIndices is null ? 0 : 1;
        switch (weight.DType)
        {
            case DType.F32: FusedLinearOf<float, F32Format, F32Pack>(x, up, normWeight, rowIndices, weight, bias, output, p, UseFast(PackedFusedMatVec)); break;
            case DType.F16: FusedLinearOf<ushort, F16Format, F16Pack>(x, up, normWeight, rowIndices, weight, bias, output, p, UseFast(PackedFusedMatVec)); break;
            default: FusedLinearOf<ushort, BF16Format, BF16Pack>(x, up, normWeight, rowIndices, weight, bias, output, p, UseFast(PackedFusedMatVec)); break;
        }
        return true;
    }

    private void FusedLinearOf<TW, TF, TP>(DeviceArray x, DeviceArray? up, DeviceArray? normWeight, DeviceArray? rowIndices, DeviceArray weight,
        DeviceArray? bias, DeviceArray output, FusedLinearParams p, bool fast)
        where TW : unmanaged where TF : struct, IElementFormat<TW> where TP : struct, IPackFormat
    {
        int warpsPerGroup = GroupSize / Accelerator.WarpSize;
        int rowsPerGroup = warpsPerGroup * MatVecRowsPerWarp;
        p.GroupsPerRow = (p.OutDim + rowsPerGroup - 1) / rowsPerGroup;
        var config = new KernelConfig(p.GroupsPerRow * p.Rows, GroupSize);
        var w = ViewOf<TW>(weight);
        var nw = normWeight is null ? w : ViewOf<TW>(normWeight);
        var b = bias is null ? w : ViewOf<TW>(bias);
        _placeholderInts ??= Allocate(DType.I32, 1);
        var indices = ViewOf<int>(rowIndices ?? _placeholderInts);
        var y = ViewOf<float>(output);
        bool packable = fast && p.InDim % default(TP).Count == 0 && Aligned16(weight) && Aligned16(x) && (up is null || Aligned16(up));
        if (packable)
        {
            long xLength = x.Length / 4 * 4, upLength = up is null ? xLength : up.Length / 4 * 4;
            var xs = ViewOf<Pack16>(x.View(0, xLength));
            var ups = up is null ? xs : ViewOf<Pack16>(up.View(0, upLength));
            var packs = ViewOf<Pack16>(weight.View(0, (long)p.OutDim * p.InDim));
            Kernel<ArrayView<Pack16>, ArrayView<Pack16>, ArrayView<TW>, ArrayView<Pack16>, ArrayView<TW>, ArrayView<float>, ArrayView<int>, FusedLinearParams>(
                FusedMatVecPackedKernel<TW, TF, TP>)(config, xs, ups, nw, packs, b, y, indices, p);
        }
        else
        {
            var xs = ViewOf<float>(x);
            Kernel<ArrayView<float>, ArrayView<float>, ArrayView<TW>, ArrayView<TW>, ArrayView<TW>, ArrayView<float>, ArrayView<int>, FusedLinearParams>(
                FusedMatVecKernel<TW, TF>)(config, xs, up is null ? xs : ViewOf<float>(up), nw, w, b, y, indices, p);
        }
    }

    private static bool Aligned16(DeviceArray array) => ((IlgpuArray)array).ByteOffset % 16 == 0;

    /// <summary>Self-check of the packed fused product against the element one: every input prologue, weight dtype, a gathered row and the residual add.</summary>
    internal double CompareFusedMatVec(Random random)
    {
        const int rows = 2, inDim = 96, outDim = 41;
        double worst = 0;
        using var x = RandomArray(DType.F32, rows * inDim, random);
        using var up = RandomArray(DType.F32, rows * inDim, random);
        using var indices = Allocate(DType.I32, rows);
        Upload<int>(indices, [1, 0]);
        foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            using var weight = RandomArray(dtype, inDim * outDim, random);
            using var bias = RandomArray(dtype, outDim, random);
            using var norm = RandomArray(dtype, inDim, random);
            foreach (var input in new[] { FusedInput.Plain, FusedInput.Norm, FusedInput.SiluMul })
            {
                var p = new FusedLinearParams { Rows = rows, InDim = inDim, OutDim = outDim, Input = (int)input, HasBias = 1, Eps = 1e-5f,
                    Gathered = input == FusedInput.Norm ? 1 : 0 }; // no residual add: the outputs start uninitialised
                void Run(bool fast, DeviceArray output)
                {
                    var gathered = p.Gathered != 0 ? indices : null;
                    switch (dtype)
                    {
                        case DType.F32: FusedLinearOf<float, F32Format, F32Pack>(x, up, norm, gathered, weight, bias, output, p, fast); break;
                        case DType.F16: FusedLinearOf<ushort, F16Format, F16Pack>(x, up, norm, gathered, weight, bias, output, p, fast); break;
                        default: FusedLinearOf<ushort, BF16Format, BF16Pack>(x, up, norm, gathered, weight, bias, output, p, fast); break;
                    }
                }
                double error = CompareOutputs(rows * outDim, output => Run(true, output), output => Run(false, output));
                if (!(error <= worst)) worst = error;
            }
        }
        return worst;
    }
}
