using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Linear layer: output[r, o] = sum_i x[r, i] * weight[o, i] (+ bias[o]), weights widened to F32 in
/// registers, F32 accumulation.
/// - rows == 1 (decode): matrix-vector; lanes stride along the row so a warp reads contiguous memory
///   and a warp reduction finishes each dot product. Three kernels: four rows per warp with 16-byte
///   loads of weights and x (the fast one, when weights and x are 16-byte aligned), one row per warp
///   with 16-byte weight loads (fast, weights aligned), one row per warp with element loads (the
///   portable twin both fast ones are self-checked against on first use, see FastKernel).
/// - rows &gt; 1 (prefill): matrix-matrix with 64x64 output tiles and 16-deep K tiles staged in shared
///   memory; each of 256 threads accumulates a 4x4 block.
/// A bias of another dtype than the weight is added by a separate kernel.
/// </summary>
public sealed partial class IlgpuBackend
{
    private const int TileM = 64, TileN = 64, TileK = 16, MatMulThreads = 256;

    /// <summary>The decode product with 16-byte weight loads; its portable twin loads one element at a time.</summary>
    internal static readonly FastKernel PackedMatVec = FastKernel.Register("MatVecPackedKernel", "MatVecKernel", 1e-4,
        (backend, random) => backend.CompareMatVec(random, fast => fast ? MatVecPath.Packed : MatVecPath.Element));

    /// <summary>The decode product with several rows per warp and 16-byte loads of weights and x; its twin loads one element at a time.</summary>
    internal static readonly FastKernel RowsMatVec = FastKernel.Register("MatVecRowsKernel", "MatVecKernel", 1e-4,
        (backend, random) => backend.CompareMatVec(random, fast => fast ? MatVecPath.Rows : MatVecPath.Element));

    /// <summary>Output rows per warp of <see cref="MatVecRowsKernel{TW, TF, TP}"/>: its weight loads in flight per lane and iteration.</summary>
    private const int MatVecRowsPerWarp = 4;

    /// <summary>The decode matrix-vector kernels.</summary>
    internal enum MatVecPath { Element, Packed, Rows }
    /// <summary>Row stride of the staged weight tile: one float of padding keeps its transposing stores off a single bank.</summary>
    private const int WeightTileStride = TileN + 1;

    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void MatVecKernel<TW, TF>(ArrayView<float> x, ArrayView<TW> weight, ArrayView<TW> bias, int hasBias, ArrayView<float> output, int inDim, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        int o = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (o >= outDim) return; // whole warps leave together
        long rowBase = (long)o * inDim;
        float acc = 0f;
        for (int i = Warp.LaneIdx; i < inDim; i += Warp.WarpSize)
            acc += x[i] * default(TF).Widen(weight[rowBase + i]);
        acc = WarpExtensions.Reduce<float, AddFloat>(acc);
        if (Warp.IsFirstLane)
            output[o] = hasBias != 0 ? acc + default(TF).Widen(bias[o]) : acc;
    }

    [KernelInstance(typeof(float), typeof(F32Format), typeof(F32Pack))]
    [KernelInstance(typeof(ushort), typeof(F16Format), typeof(F16Pack))]
    [KernelInstance(typeof(ushort), typeof(BF16Format), typeof(BF16Pack))]
    internal static void MatVecPackedKernel<TW, TF, TP>(ArrayView<float> x, ArrayView<Pack16> weight, ArrayView<TW> bias, int hasBias, ArrayView<float> output, int inDim, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW> where TP : struct, IPackFormat
    {
        int o = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (o >= outDim) return;
        int perPack = default(TP).Count;
        int packsPerRow = inDim / perPack;
        long rowBase = (long)o * packsPerRow;
        float acc = 0f;
        for (int k = Warp.LaneIdx; k < packsPerRow; k += Warp.WarpSize)
            acc += default(TP).Dot(weight[rowBase + k], x, (long)k * perPack);
        acc = WarpExtensions.Reduce<float, AddFloat>(acc);
        if (Warp.IsFirstLane)
            output[o] = hasBias != 0 ? acc + default(TF).Widen(bias[o]) : acc;
    }

    /// <summary>
    /// Decode product, four output rows per warp: each lane loads one 16-byte pack of each of the four rows (four
    /// independent loads in flight) and the matching x packs (16 bytes each, shared by the four rows), so x is read
    /// once per four rows and every global load is 128 bits. Rows past outDim read the last row and are not stored.
    /// </summary>
    [KernelInstance(typeof(float), typeof(F32Format), typeof(F32Pack))]
    [KernelInstance(typeof(ushort), typeof(F16Format), typeof(F16Pack))]
    [KernelInstance(typeof(ushort), typeof(BF16Format), typeof(BF16Pack))]
    internal static void MatVecRowsKernel<TW, TF, TP>(ArrayView<Pack16> x, ArrayView<Pack16> weight, ArrayView<TW> bias, int hasBias, ArrayView<float> output, int inDim, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW> where TP : struct, IPackFormat
    {
        int o = (Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx) * MatVecRowsPerWarp;
        if (o >= outDim) return; // whole warps leave together
        int packsPerRow = inDim / default(TP).Count;
        int xPacks = default(TP).XPacks;
        long row0 = (long)o * packsPerRow;
        long row1 = (long)Math.Min(o + 1, outDim - 1) * packsPerRow;
        long row2 = (long)Math.Min(o + 2, outDim - 1) * packsPerRow;
        long row3 = (long)Math.Min(o + 3, outDim - 1) * packsPerRow;
        float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
        for (int k = Warp.LaneIdx; k < packsPerRow; k += Warp.WarpSize)
        {
            Pack16 w0 = weight[row0 + k], w1 = weight[row1 + k], w2 = weight[row2 + k], w3 = weight[row3 + k];
            Pack16 x0 = x[(long)k * xPacks];
            Pack16 x1 = xPacks == 2 ? x[(long)k * 2 + 1] : x0;
            a0 += default(TP).Dot(w0, x0, x1);
            a1 += default(TP).Dot(w1, x0, x1);
            a2 += default(TP).Dot(w2, x0, x1);
            a3 += default(TP).Dot(w3, x0, x1);
        }
        a0 = WarpExtensions.Reduce<float, AddFloat>(a0);
        a1 = WarpExtensions.Reduce<float, AddFloat>(a1);
        a2 = WarpExtensions.Reduce<float, AddFloat>(a2);
        a3 = WarpExtensions.Reduce<float, AddFloat>(a3);
        if (Warp.IsFirstLane)
        {
            StoreOne<TW, TF>(a0, 0, o, bias, hasBias, output, outDim);
            StoreOne<TW, TF>(a1, 0, o + 1, bias, hasBias, output, outDim);
            StoreOne<TW, TF>(a2, 0, o + 2, bias, hasBias, output, outDim);
            StoreOne<TW, TF>(a3, 0, o + 3, bias, hasBias, output, outDim);
        }
    }

    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void MatMulKernel<TW, TF>(ArrayView<float> x, ArrayView<TW> weight, ArrayView<TW> bias, int hasBias, ArrayView<float> output, int rows, int inDim, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        var xs = SharedMemory.Allocate<float>(TileM * TileK); // [m][k]
        var ws = SharedMemory.Allocate<float>(TileK * WeightTileStride); // [k][n]
        int tilesN = (outDim + TileN - 1) / TileN;
        int m0 = Grid.IdxX / tilesN * TileM;
        int n0 = Grid.IdxX % tilesN * TileN;
        int t = Group.IdxX;
        int tx = t % 16, ty = t / 16;
        Row4x4 acc = default;
        for (int k0 = 0; k0 < inDim; k0 += TileK)
        {
            StageActivationTile(xs, x, m0, k0, rows, inDim);
            for (int e = t; e < TileN * TileK; e += MatMulThreads)
            {
                int n = e / TileK, c = e % TileK;
                int gn = n0 + n, k = k0 + c;
                ws[c * WeightTileStride + n] = gn < outDim && k < inDim ? default(TF).Widen(weight[(long)gn * inDim + k]) : 0f;
            }
            Group.Barrier();
            acc = MultiplyStagedTiles(acc, xs, ws, tx, ty);
            Group.Barrier();
        }
        StoreTile<TW, TF>(acc, m0 + ty, n0 + tx, bias, hasBias, output, rows, outDim);
    }

    /// <summary>Stages x[m0..m0+64, k0..k0+16] (zeros outside x) into xs [m][k]; every thread of the group takes part.</summary>
    private static void StageActivationTile(ArrayView<float> xs, ArrayView<float> x, int m0, int k0, int rows, int inDim)
    {
        for (int e = Group.IdxX; e < TileM * TileK; e += MatMulThreads)
        {
            int m = m0 + e / TileK, k = k0 + e % TileK;
            xs[e] = m < rows && k < inDim ? x[(long)m * inDim + k] : 0f;
        }
    }

    /// <summary>One K tile of the product: the thread's 4x4 block (rows ty + 16i, columns tx + 16j) accumulates xs times ws.</summary>
    private static Row4x4 MultiplyStagedTiles(Row4x4 acc, ArrayView<float> xs, ArrayView<float> ws, int tx, int ty)
    {
        for (int kk = 0; kk < TileK; kk++)
        {
            int wRow = kk * WeightTileStride + tx;
            float b0 = ws[wRow], b1 = ws[wRow + 16], b2 = ws[wRow + 32], b3 = ws[wRow + 48];
            acc.R0 = acc.R0.Fma(xs[ty * TileK + kk], b0, b1, b2, b3);
            acc.R1 = acc.R1.Fma(xs[(ty + 16) * TileK + kk], b0, b1, b2, b3);
            acc.R2 = acc.R2.Fma(xs[(ty + 32) * TileK + kk], b0, b1, b2, b3);
            acc.R3 = acc.R3.Fma(xs[(ty + 48) * TileK + kk], b0, b1, b2, b3);
        }
        return acc;
    }

    /// <summary>Writes a thread's 4x4 block: rows m, m+16, m+32, m+48 of columns n, n+16, n+32, n+48.</summary>
    private static void StoreTile<TW, TF>(Row4x4 acc, int m, int n, ArrayView<TW> bias, int hasBias, ArrayView<float> output, int rows, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        StoreRow<TW, TF>(acc.R0, m, n, bias, hasBias, output, rows, outDim);
        StoreRow<TW, TF>(acc.R1, m + 16, n, bias, hasBias, output, rows, outDim);
        StoreRow<TW, TF>(acc.R2, m + 32, n, bias, hasBias, output, rows, outDim);
        StoreRow<TW, TF>(acc.R3, m + 48, n, bias, hasBias, output, rows, outDim);
    }

    /// <summary>Writes a thread's four outputs of one row: columns n, n+16, n+32, n+48.</summary>
    private static void StoreRow<TW, TF>(Row4 r, int m, int n, ArrayView<TW> bias, int hasBias, ArrayView<float> output, int rows, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        if (m >= rows) return;
        long rowBase = (long)m * outDim;
        StoreOne<TW, TF>(r.C0, rowBase, n, bias, hasBias, output, outDim);
        StoreOne<TW, TF>(r.C1, rowBase, n + 16, bias, hasBias, output, outDim);
        StoreOne<TW, TF>(r.C2, rowBase, n + 32, bias, hasBias, output, outDim);
        StoreOne<TW, TF>(r.C3, rowBase, n + 48, bias, hasBias, output, outDim);
    }

    private static void StoreOne<TW, TF>(float value, long rowBase, int n, ArrayView<TW> bias, int hasBias, ArrayView<float> output, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        if (n < outDim) output[rowBase + n] = hasBias != 0 ? value + default(TF).Widen(bias[n]) : value;
    }

    [KernelInstance(typeof(float), typeof(F32Format))]
    [KernelInstance(typeof(ushort), typeof(F16Format))]
    [KernelInstance(typeof(ushort), typeof(BF16Format))]
    internal static void AddBiasKernel<TB, TF>(ArrayView<float> output, ArrayView<TB> bias, int rows, int outDim)
        where TB : unmanaged where TF : struct, IElementFormat<TB>
    {
        long total = (long)rows * outDim;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < total; i += stride)
            output[i] += default(TF).Widen(bias[i % outDim]);
    }

    public void Linear(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
    {
        Require(x.DType == DType.F32 && output.DType == DType.F32, "linear activations are F32");
        Require(x.Length >= (long)rows * inDim, "linear input shorter than rows * inDim");
        Require(weight.Length >= (long)outDim * inDim, "linear weight shorter than outDim * inDim");
        Require(output.Length >= (long)rows * outDim, "linear output shorter than rows * outDim");
        Require(bias is null || bias.Length >= outDim, "linear bias shorter than outDim");
        if (rows == 0 || outDim == 0) return;
        if (DTypes.IsBlockQuantized(weight.DType))
        {
            LinearQuantized(x, weight, bias, output, rows, inDim, outDim);
            return;
        }
        bool fuseBias = bias is not null && bias.DType == weight.DType;
        switch (weight.DType)
        {
            case DType.F32: LinearOf<float, F32Format, F32Pack>(x, weight, fuseBias ? bias : null, output, rows, inDim, outDim); break;
            case DType.F16: LinearOf<ushort, F16Format, F16Pack>(x, weight, fuseBias ? bias : null, output, rows, inDim, outDim); break;
            case DType.BF16: LinearOf<ushort, BF16Format, BF16Pack>(x, weight, fuseBias ? bias : null, output, rows, inDim, outDim); break;
            default: throw new ArgumentException($"linear weight dtype {weight.DType} is not a weight dtype");
        }
        if (bias is not null && !fuseBias) AddBias(output, bias, rows, outDim);
    }

    /// <summary>output[r, o] += bias[o]: a bias the product kernel did not fuse.</summary>
    private void AddBias(DeviceArray output, DeviceArray bias, int rows, int outDim)
    {
        var config = GridStride((long)rows * outDim);
        switch (bias.DType)
        {
            case DType.F32: Kernel<ArrayView<float>, ArrayView<float>, int, int>(AddBiasKernel<float, F32Format>)(config, ViewOf<float>(output), ViewOf<float>(bias), rows, outDim); break;
            case DType.F16: Kernel<ArrayView<float>, ArrayView<ushort>, int, int>(AddBiasKernel<ushort, F16Format>)(config, ViewOf<float>(output), ViewOf<ushort>(bias), rows, outDim); break;
            case DType.BF16: Kernel<ArrayView<float>, ArrayView<ushort>, int, int>(AddBiasKernel<ushort, BF16Format>)(config, ViewOf<float>(output), ViewOf<ushort>(bias), rows, outDim); break;
            default: throw new ArgumentException($"linear bias dtype {bias.DType} is not a weight dtype");
        }
    }

    private void LinearOf<TW, TF, TP>(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW> where TP : struct, IPackFormat
    {
        if (rows == 1)
        {
            bool packable = inDim % default(TP).Count == 0 && ((IlgpuArray)weight).ByteOffset % 16 == 0;
            bool xPackable = packable && ((IlgpuArray)x).ByteOffset % 16 == 0;
            var path = xPackable && UseFast(RowsMatVec) ? MatVecPath.Rows
                : packable && UseFast(PackedMatVec) ? MatVecPath.Packed
                : MatVecPath.Element;
            MatVecOf<TW, TF, TP>(path, x, weight, bias, output, inDim, outDim);
            return;
        }
        if (UsesTensorCores(weight, inDim)) LinearOnTensorCores(x, weight, bias, output, rows, inDim, outDim);
        else MatMulOf<TW, TF>(x, weight, bias, output, rows, inDim, outDim);
    }

    /// <summary>The portable prefill product: F32 tiles in shared memory (also the tensor-core GEMM's self-check twin).</summary>
    private void MatMulOf<TW, TF>(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW>
    {
        var xs = ViewOf<float>(x);
        var w = ViewOf<TW>(weight);
        var b = bias is null ? w : ViewOf<TW>(bias);
        int hasBias = bias is null ? 0 : 1;
        var y = ViewOf<float>(output);
        int tiles = ((rows + TileM - 1) / TileM) * ((outDim + TileN - 1) / TileN);
        Kernel<ArrayView<float>, ArrayView<TW>, ArrayView<TW>, int, ArrayView<float>, int, int, int>(MatMulKernel<TW, TF>)(
            new KernelConfig(tiles, MatMulThreads), xs, w, b, hasBias, y, rows, inDim, outDim);
    }

    /// <summary>One decode matrix-vector product by the given kernel (the caller checked that its layout fits).</summary>
    private void MatVecOf<TW, TF, TP>(MatVecPath path, DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int inDim, int outDim)
        where TW : unmanaged where TF : struct, IElementFormat<TW> where TP : struct, IPackFormat
    {
        var xs = ViewOf<float>(x);
        var w = ViewOf<TW>(weight);
        var b = bias is null ? w : ViewOf<TW>(bias);
        int hasBias = bias is null ? 0 : 1;
        var y = ViewOf<float>(output);
        int warpsPerGroup = GroupSize / Accelerator.WarpSize;
        var config = new KernelConfig((outDim + warpsPerGroup - 1) / warpsPerGroup, GroupSize);
        switch (path)
        {
            case MatVecPath.Rows:
                int rowsPerGroup = warpsPerGroup * MatVecRowsPerWarp;
                var xPacks = ViewOf<Pack16>(x.View(0, inDim));
                var weightPacks = ViewOf<Pack16>(weight.View(0, (long)outDim * inDim));
                Kernel<ArrayView<Pack16>, ArrayView<Pack16>, ArrayView<TW>, int, ArrayView<float>, int, int>(MatVecRowsKernel<TW, TF, TP>)(
                    new KernelConfig((outDim + rowsPerGroup - 1) / rowsPerGroup, GroupSize), xPacks, weightPacks, b, hasBias, y, inDim, outDim);
                break;
            case MatVecPath.Packed:
                var packs = ViewOf<Pack16>(weight.View(0, (long)outDim * inDim));
                Kernel<ArrayView<float>, ArrayView<Pack16>, ArrayView<TW>, int, ArrayView<float>, int, int>(MatVecPackedKernel<TW, TF, TP>)(config, xs, packs, b, hasBias, y, inDim, outDim);
                break;
            default:
                Kernel<ArrayView<float>, ArrayView<TW>, ArrayView<TW>, int, ArrayView<float>, int, int>(MatVecKernel<TW, TF>)(config, xs, w, b, hasBias, y, inDim, outDim);
                break;
        }
    }

    /// <summary>
    /// Self-check of a decode matrix-vector kernel: <paramref name="pathOf"/>(true) against <paramref name="pathOf"/>(false)
    /// on a small random product with bias, in every weight dtype; the largest relative difference.
    /// </summary>
    internal double CompareMatVec(Random random, Func<bool, MatVecPath> pathOf)
    {
        const int inDim = 96, outDim = 41; // rows of 12 packs of bf16, an outDim that leaves a partial group
        double worst = 0;
        using var x = RandomArray(DType.F32, inDim, random);
        foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            using var weight = RandomArray(dtype, inDim * outDim, random);
            using var bias = RandomArray(dtype, outDim, random);
            void Run(MatVecPath path, DeviceArray output)
            {
                switch (dtype)
                {
                    case DType.F32: MatVecOf<float, F32Format, F32Pack>(path, x, weight, bias, output, inDim, outDim); break;
                    case DType.F16: MatVecOf<ushort, F16Format, F16Pack>(path, x, weight, bias, output, inDim, outDim); break;
                    default: MatVecOf<ushort, BF16Format, BF16Pack>(path, x, weight, bias, output, inDim, outDim); break;
                }
            }
            double error = CompareOutputs(outDim, output => Run(pathOf(true), output), output => Run(pathOf(false), output));
            if (!(error <= worst)) worst = error;
        }
        return worst;
    }
}
