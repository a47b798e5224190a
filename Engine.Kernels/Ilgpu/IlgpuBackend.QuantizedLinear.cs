using Engine.Core;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Algorithms.ScanReduceOperations;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Linear over block-quantized weights (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K) kept as stored: every kernel reads
/// the blocks through a halfword view and decodes eight weights at a time in registers (<see cref="IBlockFormat"/>).
/// - rows == 1 (decode): one warp per output row, lanes along the row's groups of eight, F32 accumulation
///   (<see cref="QuantMatVecKernel{TQ}"/>, the portable kernel). On CUDA the int8 kernel runs instead when its
///   self-check passes: x is first quantized to int8 per 32 values (one scale each, as ggml's Q8_1 activations)
///   and each group of eight is two dp4a instructions (<see cref="QuantMatVecDp4aKernel{TQ}"/>).
/// - rows &gt; 1 (prefill): the float matrix-matrix tiles, with each 64x16 weight tile decoded into shared memory.
/// An F32 bias is fused; another dtype is added by a separate kernel.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Values of x per int8 scale on the dp4a path (four groups of eight).</summary>
    private const int ActivationBlock = 32;

    /// <summary>
    /// The int8 decode product; its twin is the float one. The tolerance allows for x rounded to int8 per 32
    /// values (about 0.4% of the outputs' scale on random inputs); a wrong decode is off by far more.
    /// </summary>
    internal static readonly FastKernel Dp4aMatVec = FastKernel.Register("QuantMatVecDp4aKernel", "QuantMatVecKernel", 2e-2,
        (backend, random) => backend.CompareQuantizedMatVec(random));

    /// <summary>The int8 activations and their scales for the dp4a path, grown to the largest inDim seen.</summary>
    private DeviceArray? _quantizedActivations;

    public bool SupportsWeightType(DType dtype) => dtype is DType.F32 or DType.F16 or DType.BF16 || DTypes.IsBlockQuantized(dtype);

    [KernelInstance(typeof(Q8_0Block))]
    [KernelInstance(typeof(Q4_0Block))]
    [KernelInstance(typeof(Q5_0Block))]
    [KernelInstance(typeof(Q4_KBlock))]
    [KernelInstance(typeof(Q5_KBlock))]
    [KernelInstance(typeof(Q6_KBlock))]
    internal static void QuantMatVecKernel<TQ>(ArrayView<float> x, ArrayView<ushort> weight, ArrayView<float> bias, int hasBias, ArrayView<float> output, int inDim, int outDim)
        where TQ : struct, IBlockFormat
    {
        int o = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (o >= outDim) return; // whole warps leave together
        int groupsPerBlock = default(TQ).BlockElements / 8;
        long rowBase = (long)o * (inDim / default(TQ).BlockElements) * default(TQ).BlockHalfwords;
        float acc = 0f;
        for (int g = Warp.LaneIdx; g < inDim / 8; g += Warp.WarpSize)
        {
            int block = g / groupsPerBlock;
            acc += default(TQ).Decode(weight, rowBase + (long)block * default(TQ).BlockHalfwords, g - block * groupsPerBlock).Dot(x, 8L * g);
        }
        acc = WarpExtensions.Reduce<float, AddFloat>(acc);
        if (Warp.IsFirstLane) output[o] = hasBias != 0 ? acc + bias[o] : acc;
    }

    /// <summary>
    /// x to int8 per 32 values, ggml's Q8_1 rounding: scale = max |x| / 127, q = round(x / scale) (half away from
    /// zero). quants holds four q per int (lowest byte first), scales one float per 32 values.
    /// </summary>
    [KernelInstance]
    internal static void QuantizeActivationsKernel(ArrayView<float> x, ArrayView<int> quants, ArrayView<float> scales, int blocks)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long b = Grid.GlobalIndex.X; b < blocks; b += stride)
        {
            long at = b * ActivationBlock;
            float max = 0f;
            for (int i = 0; i < ActivationBlock; i++) max = Math.Max(max, Math.Abs(x[at + i]));
            float inverse = max > 0f ? 127f / max : 0f;
            for (int word = 0; word < ActivationBlock / 4; word++)
            {
                uint packed = 0;
                for (int j = 0; j < 4; j++)
                {
                    float v = x[at + 4 * word + j] * inverse;
                    int q = (int)(v >= 0f ? v + 0.5f : v - 0.5f);
                    packed |= (uint)(q & 0xFF) << (8 * j);
                }
                quants[b * (ActivationBlock / 4) + word] = (int)packed;
            }
            scales[b] = max / 127f;
        }
    }

    /// <summary>The decode product in int8: per group of eight, q . xq by two dp4a (and, for types with mins, sum xq by two more).</summary>
    [KernelInstance(typeof(Q8_0Block))]
    [KernelInstance(typeof(Q4_0Block))]
    [KernelInstance(typeof(Q5_0Block))]
    [KernelInstance(typeof(Q4_KBlock))]
    [KernelInstance(typeof(Q5_KBlock))]
    [KernelInstance(typeof(Q6_KBlock))]
    internal static void QuantMatVecDp4aKernel<TQ>(ArrayView<int> xQuants, ArrayView<float> xScales, ArrayView<ushort> weight, ArrayView<float> bias, int hasBias, ArrayView<float> output, int inDim, int outDim)
        where TQ : struct, IBlockFormat
    {
        int o = Grid.IdxX * (Group.DimX / Warp.WarpSize) + Warp.WarpIdx;
        if (o >= outDim) return;
        int groupsPerBlock = default(TQ).BlockElements / 8;
        long rowBase = (long)o * (inDim / default(TQ).BlockElements) * default(TQ).BlockHalfwords;
        float acc = 0f;
        for (int g = Warp.LaneIdx; g < inDim / 8; g += Warp.WarpSize)
        {
            int block = g / groupsPerBlock;
            var q = default(TQ).Decode(weight, rowBase + (long)block * default(TQ).BlockHalfwords, g - block * groupsPerBlock);
            uint x0 = (uint)xQuants[2L * g], x1 = (uint)xQuants[2L * g + 1];
            float part = q.Scale * Dp4a.Dot(q.High, x1, Dp4a.Dot(q.Low, x0, 0));
            if (default(TQ).HasOffset) part -= q.Offset * Dp4a.Dot(0x0101_0101u, x1, Dp4a.Dot(0x0101_0101u, x0, 0));
            acc += xScales[g / (ActivationBlock / 8)] * part;
        }
        acc = WarpExtensions.Reduce<float, AddFloat>(acc);
        if (Warp.IsFirstLane) output[o] = hasBias != 0 ? acc + bias[o] : acc;
    }

    /// <summary>The prefill product: <see cref="MatMulKernel{TW, TF}"/>'s tiles, the weight tile decoded (64 rows x 16, two groups per row).</summary>
    [KernelInstance(typeof(Q8_0Block))]
    [KernelInstance(typeof(Q4_0Block))]
    [KernelInstance(typeof(Q5_0Block))]
    [KernelInstance(typeof(Q4_KBlock))]
    [KernelInstance(typeof(Q5_KBlock))]
    [KernelInstance(typeof(Q6_KBlock))]
    internal static void QuantMatMulKernel<TQ>(ArrayView<float> x, ArrayView<ushort> weight, ArrayView<float> bias, int hasBias, ArrayView<float> output, int rows, int inDim, int outDim)
        where TQ : struct, IBlockFormat
    {
        var xs = SharedMemory.Allocate<float>(TileM * TileK); // [m][k]
        var ws = SharedMemory.Allocate<float>(TileK * WeightTileStride); // [k][n]
        int tilesN = (outDim + TileN - 1) / TileN;
        int m0 = Grid.IdxX / tilesN * TileM;
        int n0 = Grid.IdxX % tilesN * TileN;
        int t = Group.IdxX;
        int groupsPerBlock = default(TQ).BlockElements / 8;
        long rowHalfwords = (long)(inDim / default(TQ).BlockElements) * default(TQ).BlockHalfwords;
        Row4x4 acc = default;
        for (int k0 = 0; k0 < inDim; k0 += TileK) // inDim is a multiple of 32, so tiles never pass the row's end
        {
            StageActivationTile(xs, x, m0, k0, rows, inDim);
            if (t < 2 * TileN)
            {
                int n = t >> 1, half = t & 1;
                int g = (k0 >> 3) + half;
                int block = g / groupsPerBlock;
                long at = (long)(8 * half) * WeightTileStride + n;
                if (n0 + n < outDim)
                    default(TQ).Decode(weight, (n0 + n) * rowHalfwords + (long)block * default(TQ).BlockHalfwords, g - block * groupsPerBlock).Write(ws, at, WeightTileStride);
                else
                    for (int i = 0; i < 8; i++) ws[at + i * WeightTileStride] = 0f;
            }
            Group.Barrier();
            acc = MultiplyStagedTiles(acc, xs, ws, t % 16, t / 16);
            Group.Barrier();
        }
        StoreTile<float, F32Format>(acc, m0 + t / 16, n0 + t % 16, bias, hasBias, output, rows, outDim);
    }

    /// <summary>Linear with block-quantized weights (called by <see cref="Linear"/>, which checked the shapes).</summary>
    private void LinearQuantized(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
    {
        int block = DTypes.BlockLayout(weight.DType).Elements;
        Require(inDim % block == 0, $"linear over {weight.DType} weights needs inDim a multiple of {block}, got {inDim}");
        var fused = bias is { DType: DType.F32 } ? bias : null;
        switch (weight.DType)
        {
            case DType.Q8_0: LinearQuantizedOf<Q8_0Block>(x, weight, fused, output, rows, inDim, outDim); break;
            case DType.Q4_0: LinearQuantizedOf<Q4_0Block>(x, weight, fused, output, rows, inDim, outDim); break;
            case DType.Q5_0: LinearQuantizedOf<Q5_0Block>(x, weight, fused, output, rows, inDim, outDim); break;
            case DType.Q4_K: LinearQuantizedOf<Q4_KBlock>(x, weight, fused, output, rows, inDim, outDim); break;
            case DType.Q5_K: LinearQuantizedOf<Q5_KBlock>(x, weight, fused, output, rows, inDim, outDim); break;
            case DType.Q6_K: LinearQuantizedOf<Q6_KBlock>(x, weight, fused, output, rows, inDim, outDim); break;
            default: throw new ArgumentException($"linear weight dtype {weight.DType} has no quantized kernel");
        }
        if (bias is not null && fused is null) AddBias(output, bias, rows, outDim);
    }

    private void LinearQuantizedOf<TQ>(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
        where TQ : struct, IBlockFormat
    {
        if (rows == 1)
        {
            bool int8 = Kind == BackendKind.Cuda && UseFast(Dp4aMatVec); // dp4a is an instruction of NVIDIA GPUs only
            QuantMatVecOf<TQ>(int8, x, weight, bias, output, inDim, outDim);
            return;
        }
        int tiles = ((rows + TileM - 1) / TileM) * ((outDim + TileN - 1) / TileN);
        Kernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, ArrayView<float>, int, int, int>(QuantMatMulKernel<TQ>)(
            new KernelConfig(tiles, MatMulThreads), ViewOf<float>(x), ViewOf<ushort>(weight), BiasView(bias, output), bias is null ? 0 : 1, ViewOf<float>(output), rows, inDim, outDim);
    }

    /// <summary>One decode product over quantized weights: the int8 (dp4a) kernel or the float one.</summary>
    internal void QuantMatVecOf<TQ>(bool int8, DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int inDim, int outDim)
        where TQ : struct, IBlockFormat
    {
        int warpsPerGroup = GroupSize / Accelerator.WarpSize;
        var config = new KernelConfig((outDim + warpsPerGroup - 1) / warpsPerGroup, GroupSize);
        var w = ViewOf<ushort>(weight);
        var b = BiasView(bias, output);
        int hasBias = bias is null ? 0 : 1;
        var y = ViewOf<float>(output);
        if (!int8)
        {
            Kernel<ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, ArrayView<float>, int, int>(QuantMatVecKernel<TQ>)(config, ViewOf<float>(x), w, b, hasBias, y, inDim, outDim);
            return;
        }
        var (quants, scales) = QuantizeActivations(x, inDim);
        Kernel<ArrayView<int>, ArrayView<float>, ArrayView<ushort>, ArrayView<float>, int, ArrayView<float>, int, int>(QuantMatVecDp4aKernel<TQ>)(config, quants, scales, w, b, hasBias, y, inDim, outDim);
    }

    /// <summary>x [inDim] (a multiple of 32) as int8 with one scale per 32 values, in the backend's scratch buffer.</summary>
    private (ArrayView<int> Quants, ArrayView<float> Scales) QuantizeActivations(DeviceArray x, int inDim)
    {
        int blocks = inDim / ActivationBlock, words = inDim / 4;
        if (_quantizedActivations is null || _quantizedActivations.Length < words + blocks)
        {
            _quantizedActivations?.Dispose();
            _quantizedActivations = Allocate(DType.I32, words + blocks);
        }
        var quants = ViewOf<int>(_quantizedActivations).SubView(0, words);
        var scales = ViewOf<float>(_quantizedActivations).SubView(words, blocks);
        Kernel<ArrayView<float>, ArrayView<int>, ArrayView<float>, int>(QuantizeActivationsKernel)(GridStride(blocks), ViewOf<float>(x), quants, scales, blocks);
        return (quants, scales);
    }

    /// <summary>The F32 bias view, or any F32 view when there is none (the kernels then never read it).</summary>
    private ArrayView<float> BiasView(DeviceArray? bias, DeviceArray output) => ViewOf<float>(bias ?? output);

    /// <summary>A device array of random valid blocks of a block-quantized dtype (self-checks).</summary>
    internal DeviceArray RandomQuantizedArray(DType type, int elements, Random random)
    {
        var array = Allocate(type, elements);
        Upload<byte>(array, RandomQuantizedBlocks.Create(type, elements, random));
        return array;
    }

    /// <summary>Self-check of the int8 decode product against the float one, every block type, with an F32 bias; the largest relative difference.</summary>
    internal double CompareQuantizedMatVec(Random random)
    {
        const int inDim = 512, outDim = 41; // two K super-blocks per row, an outDim that leaves a partial group
        double worst = 0;
        using var x = RandomArray(DType.F32, inDim, random);
        using var bias = RandomArray(DType.F32, outDim, random);
        foreach (var type in DTypes.BlockQuantized)
        {
            using var weight = RandomQuantizedArray(type, inDim * outDim, random);
            void Run(bool int8, DeviceArray output)
            {
                switch (type)
                {
                    case DType.Q8_0: QuantMatVecOf<Q8_0Block>(int8, x, weight, bias, output, inDim, outDim); break;
                    case DType.Q4_0: QuantMatVecOf<Q4_0Block>(int8, x, weight, bias, output, inDim, outDim); break;
                    case DType.Q5_0: QuantMatVecOf<Q5_0Block>(int8, x, weight, bias, output, inDim, outDim); break;
                    case DType.Q4_K: QuantMatVecOf<Q4_KBlock>(int8, x, weight, bias, output, inDim, outDim); break;
                    case DType.Q5_K: QuantMatVecOf<Q5_KBlock>(int8, x, weight, bias, output, inDim, outDim); break;
                    default: QuantMatVecOf<Q6_KBlock>(int8, x, weight, bias, output, inDim, outDim); break;
                }
            }
            double error = CompareOutputs(outDim, output => Run(true, output), output => Run(false, output));
            if (!(error <= worst)) worst = error;
        }
        return worst;
    }
}
