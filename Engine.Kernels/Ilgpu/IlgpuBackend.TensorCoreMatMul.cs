using System.Collections.Concurrent;
using System.Reflection;
using Engine.Core;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Prefill Linear with F16/BF16 weights on tensor cores: output[r, o] = sum_i x[r, i] weight[o, i] (+ bias[o]).
/// - The F32 activations are first narrowed to the weight's 16-bit type (round to nearest even) into a scratch
///   array (one grid-stride launch): mma.sync multiplies 16-bit inputs only. The products and their sums are F32
///   (mma accumulates in F32), so the only extra error against the F32 tiled kernel is that rounding of x:
///   at most 2^-9 (bf16) or 2^-12 (f16) of each |x_i w_oi|; f16 activations beyond +-65504 become infinities.
/// - Then 128x128 output blocks, 32-deep k tiles, 8 warps (2 x 4), each warp a 64x32 block of 16 m16n8k16 tiles.
///   A (activations, row-major [m][k]) and B (weights, [n][k] = mma's "col" B) tiles go global to shared by
///   cp.async (16 bytes per copy, zero-filled past the matrix edges) through a pipeline of 4 stages (2 when the
///   driver refuses more than 48 KB of dynamic shared memory); fragments come from shared memory by ldmatrix.x4.
///   Tile rows are padded to 40 elements (80 bytes) so the eight 16-byte rows an ldmatrix phase reads hit eight
///   distinct bank groups.
/// Selected on CUDA for inDim % 8 == 0 and 16-byte aligned weights, behind the self-check against the F32 tiled
/// kernel (<see cref="TensorCoreMatMul"/>). The same kernel body runs on any accelerator with
/// <see cref="EmulatedMatrixCoreOps"/> (tests: <see cref="TensorCoreEmulation"/>).
/// </summary>
public sealed partial class IlgpuBackend
{
    private const int TcBlockM = 128, TcBlockN = 128, TcBlockK = 32, TcThreads = 256, TcTileStride = TcBlockK + 8;
    private const int TcStageHalves = (TcBlockM + TcBlockN) * TcTileStride;
    /// <summary>Pipeline depth when the device grants the dynamic shared memory (80 KB), and the fallback (40 KB).</summary>
    private const int TcDeepStages = 4, TcShallowStages = 2;

    /// <summary>The tensor-core GEMM; its portable twin is the F32 tiled kernel.</summary>
    internal static readonly FastKernel TensorCoreMatMul = FastKernel.Register("TensorCoreMatMulKernel", "MatMulKernel", 2e-2,
        (backend, random) => backend.CompareTensorCoreMatMul(random));

    private readonly ConcurrentDictionary<MethodInfo, PromotedKernel> _promotedKernels = new();
    private DeviceArray? _halfActivations;

    /// <summary>Tests: run the tensor-core GEMM with the emulated instructions on a non-CUDA accelerator.</summary>
    internal bool TensorCoreEmulation { get; set; }

    /// <summary>Tests: force the pipeline depth (2 to 4).</summary>
    internal int? TensorCoreStagesOverride { get; set; }

    [KernelInstance(typeof(BF16Mma))]
    [KernelInstance(typeof(F16Mma))]
    internal static void NarrowActivationsKernel<TM>(ArrayView<float> x, ArrayView<ushort> narrowed, long count)
        where TM : struct, IMmaFormat
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < count; i += stride)
            narrowed[i] = default(TM).Narrow(x[i]);
    }

    [KernelInstance(typeof(BF16Mma), typeof(PtxMatrixCoreOps))]
    [KernelInstance(typeof(F16Mma), typeof(PtxMatrixCoreOps))]
    [KernelInstance(typeof(BF16Mma), typeof(EmulatedMatrixCoreOps))]
    [KernelInstance(typeof(F16Mma), typeof(EmulatedMatrixCoreOps))]
    internal static void TensorCoreMatMulKernel<TM, TOps>(ArrayView<ushort> a, ArrayView<ushort> weight, ArrayView<ushort> bias, ArrayView<float> output, TensorCoreGemmParams p)
        where TM : struct, IMmaFormat where TOps : struct, IMatrixCoreOps
    {
        var ops = default(TOps);
        var tiles = SharedMemory.GetDynamic<ushort>();
        var scratch = tiles.SubView((long)p.Stages * TcStageHalves).Cast<int>();
        ops.Begin(scratch);
        int tid = Group.IdxX, warp = tid / 32, lane = tid % 32;
        int tilesN = (p.OutDim + TcBlockN - 1) / TcBlockN;
        int m0 = Grid.IdxX / tilesN * TcBlockM, n0 = Grid.IdxX % tilesN * TcBlockN;
        int kTiles = (p.InDim + TcBlockK - 1) / TcBlockK;

        for (int s = 0; s < p.Stages - 1; s++)
        {
            if (s < kTiles) LoadTcStage<TOps>(tiles, s * TcStageHalves, s, m0, n0, p, scratch);
            ops.CommitGroup(scratch); // empty groups keep every thread's group count in step
        }

        // Warp (wm, wn) owns rows wm*64.. and columns wn*32.. of the block. ldmatrix row addresses per lane:
        // A matrices j = lane/8 are (rows 0-7 | 8-15) x (k 0-7 | 8-15) in the order a0..a3 of the mma A fragment;
        // B matrices are (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15): b0, b1 of two n8 tiles.
        int wm = warp / 4, wn = warp % 4;
        int aRow = wm * 64 + lane % 8 + (lane / 8 % 2) * 8, aColumn = lane / 16 * 8;
        int bRow = wn * 32 + lane % 8 + lane / 16 * 8, bColumn = lane / 8 % 2 * 8;
        var acc = default(WarpAccumulators);
        for (int kt = 0; kt < kTiles; kt++)
        {
            ops.WaitGroup(p.Stages - 2, tiles, a, weight, scratch); // this thread's copies of tile kt landed
            Group.Barrier(); // everyone's copies landed; everyone finished reading tile kt - 1's stage
            int next = kt + p.Stages - 1;
            if (next < kTiles) LoadTcStage<TOps>(tiles, next % p.Stages * TcStageHalves, next, m0, n0, p, scratch);
            ops.CommitGroup(scratch);

            int aBase = kt % p.Stages * TcStageHalves, bBase = aBase + TcBlockM * TcTileStride;
            for (int kk = 0; kk < TcBlockK; kk += 16)
            {
                int aIndex = aBase + aRow * TcTileStride + kk + aColumn;
                var a0 = ops.LoadMatrixX4(tiles, aIndex, scratch);
                var a1 = ops.LoadMatrixX4(tiles, aIndex + 16 * TcTileStride, scratch);
                var a2 = ops.LoadMatrixX4(tiles, aIndex + 32 * TcTileStride, scratch);
                var a3 = ops.LoadMatrixX4(tiles, aIndex + 48 * TcTileStride, scratch);
                int bIndex = bBase + bRow * TcTileStride + kk + bColumn;
                var b01 = ops.LoadMatrixX4(tiles, bIndex, scratch);
                var b23 = ops.LoadMatrixX4(tiles, bIndex + 16 * TcTileStride, scratch);
                acc = acc.Step<TM, TOps>(a0, a1, a2, a3, b01, b23, scratch);
            }
        }
        ops.WaitGroup(0, tiles, a, weight, scratch); // only empty groups remain; leave nothing in flight

        int mBase = m0 + wm * 64, nBase = n0 + wn * 32;
        StoreTcTile<TM>(acc.T00, mBase, nBase, bias, output, p); StoreTcTile<TM>(acc.T01, mBase, nBase + 8, bias, output, p);
        StoreTcTile<TM>(acc.T02, mBase, nBase + 16, bias, output, p); StoreTcTile<TM>(acc.T03, mBase, nBase + 24, bias, output, p);
        StoreTcTile<TM>(acc.T10, mBase + 16, nBase, bias, output, p); StoreTcTile<TM>(acc.T11, mBase + 16, nBase + 8, bias, output, p);
        StoreTcTile<TM>(acc.T12, mBase + 16, nBase + 16, bias, output, p); StoreTcTile<TM>(acc.T13, mBase + 16, nBase + 24, bias, output, p);
        StoreTcTile<TM>(acc.T20, mBase + 32, nBase, bias, output, p); StoreTcTile<TM>(acc.T21, mBase + 32, nBase + 8, bias, output, p);
        StoreTcTile<TM>(acc.T22, mBase + 32, nBase + 16, bias, output, p); StoreTcTile<TM>(acc.T23, mBase + 32, nBase + 24, bias, output, p);
        StoreTcTile<TM>(acc.T30, mBase + 48, nBase, bias, output, p); StoreTcTile<TM>(acc.T31, mBase + 48, nBase + 8, bias, output, p);
        StoreTcTile<TM>(acc.T32, mBase + 48, nBase + 16, bias, output, p); StoreTcTile<TM>(acc.T33, mBase + 48, nBase + 24, bias, output, p);
    }

    /// <summary>
    /// Starts the copies of k tile <paramref name="kTile"/> into the stage at <paramref name="stageBase"/>: A's 128 rows
    /// and B's 128 rows of 32 elements are 4 chunks of 16 bytes each, 512 + 512 chunks over 256 threads.
    /// </summary>
    private static void LoadTcStage<TOps>(ArrayView<ushort> tiles, int stageBase, int kTile, int m0, int n0, TensorCoreGemmParams p, ArrayView<int> scratch)
        where TOps : struct, IMatrixCoreOps
    {
        var ops = default(TOps);
        int k0 = kTile * TcBlockK;
        for (int c = Group.IdxX; c < TcBlockM * TcBlockK / 8; c += TcThreads)
        {
            int row = c / 4, k = k0 + c % 4 * 8;
            int m = m0 + row;
            bool inBounds = m < p.Rows && k < p.InDim;
            ops.CopyAsync16(tiles, stageBase + row * TcTileStride + c % 4 * 8, 0, p.ActivationAddress, (long)m * p.InDim + k, inBounds, scratch);
        }
        for (int c = Group.IdxX; c < TcBlockN * TcBlockK / 8; c += TcThreads)
        {
            int row = c / 4, k = k0 + c % 4 * 8;
            int n = n0 + row;
            bool inBounds = n < p.OutDim && k < p.InDim;
            ops.CopyAsync16(tiles, stageBase + TcBlockM * TcTileStride + row * TcTileStride + c % 4 * 8, 1, p.WeightAddress, (long)n * p.InDim + k, inBounds, scratch);
        }
    }

    /// <summary>Stores one lane's share of an m16n8 tile at (m, n): (g, 2t), (g, 2t+1), (g+8, 2t), (g+8, 2t+1).</summary>
    private static void StoreTcTile<TM>(MmaTile tile, int m, int n, ArrayView<ushort> bias, ArrayView<float> output, TensorCoreGemmParams p)
        where TM : struct, IMmaFormat
    {
        int lane = Group.IdxX % 32;
        int row = m + lane / 4, column = n + lane % 4 * 2;
        StoreTcOne<TM>(tile.C0, row, column, bias, output, p);
        StoreTcOne<TM>(tile.C1, row, column + 1, bias, output, p);
        StoreTcOne<TM>(tile.C2, row + 8, column, bias, output, p);
        StoreTcOne<TM>(tile.C3, row + 8, column + 1, bias, output, p);
    }

    private static void StoreTcOne<TM>(float value, int row, int column, ArrayView<ushort> bias, ArrayView<float> output, TensorCoreGemmParams p)
        where TM : struct, IMmaFormat
    {
        if (row >= p.Rows || column >= p.OutDim) return;
        output[(long)row * p.OutDim + column] = p.HasBias != 0 ? value + default(TM).Widen(bias[column]) : value;
    }

    /// <summary>
    /// Whether the prefill product runs on the tensor-core GEMM: CUDA (or the emulation in tests), 16-bit weights,
    /// rows of whole 16-byte chunks at a 16-byte aligned start, and the kernel passed its self-check.
    /// </summary>
    private bool UsesTensorCores(DeviceArray weight, int inDim) =>
        (Kind == BackendKind.Cuda || TensorCoreEmulation)
        && weight.DType is DType.F16 or DType.BF16
        && inDim % 8 == 0 && ((IlgpuArray)weight).ByteOffset % 16 == 0
        && UseFast(TensorCoreMatMul);

    /// <summary>Runs the tensor-core GEMM (the caller checked <see cref="UsesTensorCores"/>); a bias must have the weight's dtype.</summary>
    private void LinearOnTensorCores(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
    {
        if (weight.DType == DType.BF16) LinearOnTensorCores<BF16Mma>(x, weight, bias, output, rows, inDim, outDim);
        else LinearOnTensorCores<F16Mma>(x, weight, bias, output, rows, inDim, outDim);
    }

    private void LinearOnTensorCores<TM>(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
        where TM : struct, IMmaFormat
    {
        long count = (long)rows * inDim;
        var narrowed = HalfActivations(count);
        Kernel<ArrayView<float>, ArrayView<ushort>, long>(NarrowActivationsKernel<TM>)(GridStride(count), ViewOf<float>(x), ViewOf<ushort>(narrowed), count);
        var w = ViewOf<ushort>(weight);
        var p = new TensorCoreGemmParams
        {
            Rows = rows, InDim = inDim, OutDim = outDim, HasBias = bias is null ? 0 : 1,
            ActivationAddress = ((IlgpuArray)narrowed).DeviceAddress, WeightAddress = ((IlgpuArray)weight).DeviceAddress,
        };
        int groups = (rows + TcBlockM - 1) / TcBlockM * ((outDim + TcBlockN - 1) / TcBlockN);
        if (Kind == BackendKind.Cuda)
        {
            var (launch, stages) = PromotedTensorCoreKernel<TM>();
            p.Stages = TensorCoreStagesOverride ?? stages;
            launch(TcConfig(groups, p.Stages, 0), ViewOf<ushort>(narrowed), w, bias is null ? w : ViewOf<ushort>(bias), ViewOf<float>(output), p);
        }
        else
        {
            p.Stages = TensorCoreStagesOverride ?? TcDeepStages;
            var launch = Kernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, TensorCoreGemmParams>(TensorCoreMatMulKernel<TM, EmulatedMatrixCoreOps>);
            launch(TcConfig(groups, p.Stages, default(EmulatedMatrixCoreOps).ScratchInts(TcThreads)), ViewOf<ushort>(narrowed), w, bias is null ? w : ViewOf<ushort>(bias), ViewOf<float>(output), p);
        }
    }

    private static KernelConfig TcConfig(int groups, int stages, int scratchInts) =>
        new(new Index3D(groups, 1, 1), new Index3D(TcThreads, 1, 1),
            SharedMemoryConfig.RequestDynamic<ushort>(stages * TcStageHalves + 2 * scratchInts));

    /// <summary>
    /// The CUDA tensor-core GEMM, loaded once per input type from ILGPU's PTX after <see cref="PtxLocalPromotion"/>
    /// (which moves the inline-PTX operands from local memory into registers), counted like every launch; and its
    /// pipeline depth: 4 stages need 80 KB of dynamic shared memory, which a kernel gets only after
    /// cuFuncSetAttribute raises its limit above the default 48 KB; when the driver refuses, 2 stages (40 KB).
    /// ILGPU 1.5.3 builds a compiled kernel from PTX text only internally, hence the reflection (pinned by the
    /// central package version; a failure here is a failed self-check, and the portable kernel runs).
    /// </summary>
    private (Action<KernelConfig, ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, TensorCoreGemmParams> Launch, int Stages) PromotedTensorCoreKernel<TM>()
        where TM : struct, IMmaFormat
    {
        Action<ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, TensorCoreGemmParams> entry = TensorCoreMatMulKernel<TM, PtxMatrixCoreOps>;
        var loaded = _promotedKernels.GetOrAdd(entry.Method, method =>
        {
            var cuda = (CudaAccelerator)Accelerator;
            var compiled = (PTXCompiledKernel)cuda.Backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), new KernelSpecialization());
            var (ptx, _) = PtxLocalPromotion.Promote(compiled.PTXAssembly);
            const BindingFlags hidden = BindingFlags.NonPublic | BindingFlags.Instance;
            object entryPoint = typeof(CompiledKernel).GetProperty("EntryPoint", hidden)!.GetValue(compiled)!;
            var promoted = (CompiledKernel)typeof(PTXCompiledKernel).GetConstructors(hidden).Single().Invoke([compiled.Context, entryPoint, compiled.Info, ptx]);
            var kernel = cuda.LoadKernel(promoted);
            var launch = kernel.CreateLauncherDelegate<Action<AcceleratorStream, KernelConfig, ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, TensorCoreGemmParams>>();
            int deepBytes = TcDeepStages * TcStageHalves * 2;
            bool granted = CudaFunctionAttributes.TrySetMaxDynamicSharedMemory(((CudaKernel)kernel).FunctionPtr, deepBytes);
            if (!granted) Warn($"warning: {Name}: the driver refused {deepBytes / 1024} KB of shared memory for the tensor-core GEMM; using a {TcShallowStages}-stage pipeline");
            var stream = Accelerator.DefaultStream;
            return new PromotedKernel(kernel, granted ? TcDeepStages : TcShallowStages,
                new Action<KernelConfig, ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, TensorCoreGemmParams>((config, a1, a2, a3, a4, a5) =>
                {
                    Launches.AddLaunch();
                    launch(stream, config, a1, a2, a3, a4, a5);
                }));
        });
        return ((Action<KernelConfig, ArrayView<ushort>, ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>, TensorCoreGemmParams>)loaded.Launch, loaded.Stages);
    }

    /// <summary>A kernel loaded from rewritten PTX (kept alive here; the accelerator disposes it), its pipeline depth and counted launcher.</summary>
    private sealed record PromotedKernel(ILGPU.Runtime.Kernel Kernel, int Stages, Delegate Launch);

    /// <summary>The narrowed activations of a prefill product, grown on demand and kept for later calls.</summary>
    private DeviceArray HalfActivations(long count)
    {
        if (_halfActivations is null || _halfActivations.Length < count)
        {
            _halfActivations?.Dispose();
            _halfActivations = Allocate(DType.BF16, Math.Max(count, 4096));
        }
        return _halfActivations;
    }

    /// <summary>
    /// Self-check of the tensor-core GEMM against the F32 tiled kernel: both weight dtypes with a bias, edges that
    /// are not multiples of the tiles (rows, outDim) nor of the k tile (inDim 72 = 2 k tiles + 8).
    /// </summary>
    internal double CompareTensorCoreMatMul(Random random)
    {
        const int rows = 37, inDim = 72, outDim = 45;
        double worst = 0;
        using var x = RandomArray(DType.F32, rows * inDim, random);
        foreach (var dtype in new[] { DType.BF16, DType.F16 })
        {
            using var weight = RandomArray(dtype, inDim * outDim, random);
            using var bias = RandomArray(dtype, outDim, random);
            double error = CompareOutputs((long)rows * outDim,
                output => LinearOnTensorCores(x, weight, bias, output, rows, inDim, outDim),
                output =>
                {
                    if (dtype == DType.BF16) MatMulOf<ushort, BF16Format>(x, weight, bias, output, rows, inDim, outDim);
                    else MatMulOf<ushort, F16Format>(x, weight, bias, output, rows, inDim, outDim);
                });
            if (!(error <= worst)) worst = error;
        }
        return worst;
    }
}
