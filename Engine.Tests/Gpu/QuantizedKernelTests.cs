using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;
using Engine.Tests.Ops;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>
/// The ILGPU kernels over block-quantized weights (every type) on ILGPU's CPU accelerator, against float64
/// references over ggml's dequantized weights: the float decode product, the int8 (dp4a) one (its dp4a emulated
/// off CUDA, so the same kernel source runs here), the prefill product and the embedding gather.
/// </summary>
[NonParallelizable]
public sealed class QuantizedKernelTests
{
    private IlgpuBackend? _backend;
    private IlgpuBackend Backend => _backend!;

    private static IEnumerable<DType> Types() => DTypes.BlockQuantized;

    [OneTimeSetUp]
    public void CreateBackend() => _backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu) ?? throw new InconclusiveException("no ILGPU CPU accelerator");

    [OneTimeTearDown]
    public void DisposeBackend() => _backend?.Dispose();

    private static Random Rng(params object[] parts) => new(string.Join("/", parts).Aggregate(17, (h, c) => unchecked(h * 31 + c)));

    private (DeviceArray Array, double[] Values) RandomWeights(DType type, int elements, Random rng)
    {
        byte[] blocks = RandomQuantizedBlocks.Create(type, elements, rng);
        var array = Backend.Allocate(type, elements);
        Backend.Upload<byte>(array, blocks);
        return (array, Tolerance.Widen(RandomQuantizedBlocks.Dequantize(type, blocks, elements)));
    }

    /// <summary>x as the int8 path sees it: per 32 values, q = round(x * 127 / max|x|) times max|x| / 127 (in float, as the kernel).</summary>
    private static double[] QuantizedActivations(float[] x)
    {
        var result = new double[x.Length];
        for (int b = 0; b < x.Length; b += 32)
        {
            float max = 0;
            for (int i = 0; i < 32; i++) max = Math.Max(max, Math.Abs(x[b + i]));
            float inverse = max > 0 ? 127f / max : 0f, scale = max / 127f;
            for (int i = 0; i < 32; i++)
            {
                float v = x[b + i] * inverse;
                result[b + i] = (int)(v >= 0 ? v + 0.5f : v - 0.5f) * (double)scale;
            }
        }
        return result;
    }

    private void MatVec(DType type, bool int8, DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int inDim, int outDim)
    {
        switch (type)
        {
            case DType.Q8_0: Backend.QuantMatVecOf<Q8_0Block>(int8, x, weight, bias, output, inDim, outDim); break;
            case DType.Q4_0: Backend.QuantMatVecOf<Q4_0Block>(int8, x, weight, bias, output, inDim, outDim); break;
            case DType.Q5_0: Backend.QuantMatVecOf<Q5_0Block>(int8, x, weight, bias, output, inDim, outDim); break;
            case DType.Q4_K: Backend.QuantMatVecOf<Q4_KBlock>(int8, x, weight, bias, output, inDim, outDim); break;
            case DType.Q5_K: Backend.QuantMatVecOf<Q5_KBlock>(int8, x, weight, bias, output, inDim, outDim); break;
            default: Backend.QuantMatVecOf<Q6_KBlock>(int8, x, weight, bias, output, inDim, outDim); break;
        }
    }

    /// <summary>
    /// Decode: the float kernel against x as given, the int8 kernel against x rounded as it rounds it (so both
    /// tolerances are F32 summation's: 512 products of magnitude up to about 3).
    /// </summary>
    [Test]
    public void DecodeMatchesFloat64Reference([ValueSource(nameof(Types))] DType type, [Values(false, true)] bool int8)
    {
        const int inDim = 512, outDim = 37;
        var rng = Rng("decode", type, int8);
        var x = TestTensor.Random(DType.F32, inDim, rng);
        var bias = TestTensor.Random(DType.F32, outDim, rng);
        var (weight, values) = RandomWeights(type, outDim * inDim, rng);
        using var _ = weight;
        using var xDev = x.ToDevice(Backend);
        using var biasDev = bias.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, outDim);
        MatVec(type, int8, xDev, weight, biasDev, output, inDim, outDim);
        double[] xSeen = int8 ? QuantizedActivations(x.Floats!) : x.Values;
        double[] expected = OpReference.Linear(xSeen, values, bias.Values, 1, inDim, outDim);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, outDim), 2e-4, 1e-5, $"{type} decode ({(int8 ? "int8" : "float")})");
    }

    /// <summary>The int8 kernel against the unrounded x: the error the self-check's tolerance allows for.</summary>
    [Test]
    public void Int8DecodeStaysWithinTheSelfCheckTolerance()
    {
        double error = Backend.CompareQuantizedMatVec(new Random(5));
        Assert.That(error, Is.LessThanOrEqualTo(IlgpuBackend.Dp4aMatVec.Tolerance));
        Assert.That(error, Is.GreaterThan(0), "the int8 path rounds x, so it cannot equal the float one");
    }

    /// <summary>Prefill: rows 5 (one partial tile) and 70 (two row tiles); outDim 65 leaves a partial column tile.</summary>
    [Test]
    public void PrefillMatchesFloat64Reference([ValueSource(nameof(Types))] DType type, [Values(5, 70)] int rows)
    {
        const int inDim = 256, outDim = 65;
        var rng = Rng("prefill", type, rows);
        var x = TestTensor.Random(DType.F32, rows * inDim, rng);
        var bias = TestTensor.Random(DType.F32, outDim, rng);
        var (weight, values) = RandomWeights(type, outDim * inDim, rng);
        using var _ = weight;
        using var xDev = x.ToDevice(Backend);
        using var biasDev = bias.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, rows * outDim);
        Backend.Linear(xDev, weight, biasDev, output, rows, inDim, outDim);
        double[] expected = OpReference.Linear(x.Values, values, bias.Values, rows, inDim, outDim);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, rows * outDim), 1e-4, 1e-5, $"{type} prefill {rows} rows");
    }

    [Test]
    public void EmbeddingDequantizesRowsExactly([ValueSource(nameof(Types))] DType type)
    {
        const int vocab = 6, hidden = 512;
        var (table, values) = RandomWeights(type, vocab * hidden, Rng("embedding", type));
        using var _ = table;
        int[] ids = [3, 0, 5, 3, 6, -1];
        using var tokens = TestTensor.Ints(Backend, ids);
        using var output = Backend.Allocate(DType.F32, ids.Length * hidden);
        Backend.Embedding(table, tokens, output, ids.Length, hidden);
        double[] actual = TestTensor.Download(Backend, output, ids.Length * hidden);
        double[] expected = ids.Take(4).SelectMany(id => values.Skip(id * hidden).Take(hidden)).ToArray();
        Assert.That(actual.Take(4 * hidden), Is.EqualTo(expected), "rows equal ggml's dequantizer bit for bit");
        Assert.That(actual.Skip(4 * hidden), Has.All.NaN, "tokens outside the table");
    }

    /// <summary>Decode and prefill on a view that starts some rows into the array (Q6_K: 210-byte blocks, only 2-byte aligned), with a BF16 bias (added by its own kernel).</summary>
    [Test]
    public void LinearReadsARowRangeViewWithABf16Bias([Values(1, 3)] int rows)
    {
        const int inDim = 256, outDim = 5, skipRows = 3;
        var rng = Rng("view", rows);
        var (all, values) = RandomWeights(DType.Q6_K, (skipRows + outDim) * inDim, rng);
        using var _ = all;
        var x = TestTensor.Random(DType.F32, rows * inDim, rng);
        var bias = TestTensor.Random(DType.BF16, outDim, rng);
        using var xDev = x.ToDevice(Backend);
        using var biasDev = bias.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, rows * outDim);
        Backend.Linear(xDev, all.View(skipRows * inDim, outDim * inDim), biasDev, output, rows, inDim, outDim);
        double[] expected = OpReference.Linear(x.Values, values.Skip(skipRows * inDim).ToArray(), bias.Values, rows, inDim, outDim);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, rows * outDim), 1e-4, 1e-5, "linear on a Q6_K view");
    }

    /// <summary>`engine selftest`'s quantized cases (every block type) on the simulator against the SIMD backend over dequantized weights.</summary>
    [Test]
    public void ConformanceCasesPassForEveryBlockType()
    {
        using var reference = new SimdBackend(1);
        var names = DTypes.BlockQuantized.Select(t => DTypes.SafetensorsName(t).ToLowerInvariant()).ToHashSet();
        // Per type: the embedding and linear at 1, 3, 5 and 70 rows.
        var results = new BackendConformance(Backend, reference).RunAll(name => name.Split(' ').Any(names.Contains));
        Assert.That(results, Has.Count.EqualTo(5 * names.Count));
        Assert.That(results.Where(r => !r.Passed).Select(r => $"{r.Name}: {r.Error:G3} {r.Failure}"), Is.Empty);
    }

    [Test]
    public void TheBackendTakesEveryBlockType()
    {
        Assert.That(DTypes.BlockQuantized, Has.All.Matches<DType>(Backend.SupportsWeightType));
        Assert.That(Backend.SupportsWeightType(DType.I32), Is.False);
    }

    [Test]
    public void AnInDimOffTheBlockSizeIsRefused()
    {
        var (weight, _) = RandomWeights(DType.Q4_K, 256 * 2, Rng("bad"));
        using var _ = weight;
        using var x = Backend.Allocate(DType.F32, 512);
        using var y = Backend.Allocate(DType.F32, 4);
        Assert.That(() => Backend.Linear(x, weight, null, y, 1, 128, 4), Throws.ArgumentException.With.Message.Contains("multiple of 256"));
    }
}
