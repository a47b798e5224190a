using Engine.Core;
using Engine.Kernels;
using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>
/// Linear and embedding over every block-quantized dtype against a float64 reference over the
/// dequantized weights. Backends may quantize the activations to 8 bits per block of 32 (256 for the K
/// types) as llama.cpp does, so linear's bound is that rounding's worst case: each x off by at most
/// max|x over its block| / 254, i.e. sum |w| * that, plus float rounding of sum |w * x|.
/// </summary>
public sealed class QuantizedOpTests(string backend) : OpTestBase(backend)
{
    private static readonly DType[] Types = [DType.Q8_0, DType.Q4_0, DType.Q5_0, DType.Q4_K, DType.Q5_K, DType.Q6_K];

    private DeviceArray Upload(DType type, byte[] bytes, long elements)
    {
        if (!Backend.SupportsWeightType(type)) Assert.Ignore($"{BackendName} has no {type} kernels ({type} weights are dequantized at load there)");
        var array = Backend.Allocate(type, elements);
        Backend.Upload<byte>(array, bytes);
        return array;
    }

    /// <summary>rows 1-3 take the decode path, 4+ the prefill tiles (33: a partial group of 4); outDim 65 leaves a partial weight chunk.</summary>
    [Test]
    public void LinearMatchesReference([ValueSource(nameof(Types))] DType type, [Values(1, 2, 3, 4, 5, 7, 33)] int rows,
        [Values(1, 3, 5)] int blocks, [Values(1, 65)] int outDim)
    {
        int inDim = blocks * DTypes.BlockLayout(type).Elements;
        var rng = Rng(type, rows, inDim, outDim);
        var x = TestTensor.Random(DType.F32, rows * inDim, rng);
        var (bytes, values) = RandomBlocks.Create(type, outDim * inDim, rng);
        using var weight = Upload(type, bytes, outDim * inDim);
        using var xDev = x.ToDevice(Backend);
        var bias = TestTensor.Random(DType.F32, outDim, rng);
        using var biasDev = bias.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, rows * outDim);
        Backend.Linear(xDev, weight, biasDev, output, rows, inDim, outDim);
        AssertWithinActivationRounding(type, x.Values, values, bias.Values, TestTensor.Download(Backend, output, rows * outDim), rows, inDim, outDim);
    }

    [Test]
    public void LinearReadsARowRangeView([ValueSource(nameof(Types))] DType type)
    {
        var rng = Rng(type, "view");
        int inDim = DTypes.BlockLayout(type).Elements * 2;
        const int outDim = 5, skipRows = 3;
        var (bytes, values) = RandomBlocks.Create(type, (skipRows + outDim) * inDim, rng);
        using var all = Upload(type, bytes, (skipRows + outDim) * inDim);
        var x = TestTensor.Random(DType.F32, inDim, rng);
        using var xDev = x.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, outDim);
        Backend.Linear(xDev, all.View(skipRows * inDim, outDim * inDim), null, output, 1, inDim, outDim);
        AssertWithinActivationRounding(type, x.Values, values.Skip(skipRows * inDim).ToArray(), null, TestTensor.Download(Backend, output, outDim), 1, inDim, outDim);
    }

    [Test]
    public void EmbeddingDequantizesRowsExactly([ValueSource(nameof(Types))] DType type)
    {
        var rng = Rng(type, "embedding");
        const int vocab = 10;
        int hidden = DTypes.BlockLayout(type).Elements * 2;
        var (bytes, values) = RandomBlocks.Create(type, vocab * hidden, rng);
        using var table = Upload(type, bytes, vocab * hidden);
        int[] ids = [3, 0, 9, 3];
        using var tokens = TestTensor.Ints(Backend, ids);
        using var output = Backend.Allocate(DType.F32, ids.Length * hidden);
        Backend.Embedding(table, tokens, output, ids.Length, hidden);
        double[] expected = ids.SelectMany(id => values.Skip(id * hidden).Take(hidden)).ToArray();
        Assert.That(TestTensor.Download(Backend, output, ids.Length * hidden), Is.EqualTo(expected));
    }

    /// <summary>
    /// |actual - exact| &lt;= sum_i |w_i| * max|x over i's activation block| / 254 (8-bit rounding of x)
    /// + 1e-5 * sum_i |w_i * x_i| (float sums and scales) + 1e-6, per output.
    /// </summary>
    private static void AssertWithinActivationRounding(DType type, double[] x, double[] weight, double[]? bias, double[] actual, int rows, int inDim, int outDim)
    {
        int block = DTypes.BlockLayout(type).Elements; // 32, or 256 for the K types (as the activation blocks)
        double[] expected = OpReference.Linear(x, weight, bias, rows, inDim, outDim);
        for (int r = 0; r < rows; r++)
        {
            var blockMax = new double[inDim];
            for (int i = 0; i < inDim; i++) blockMax[i] = Enumerable.Range(i / block * block, block).Max(k => Math.Abs(x[r * inDim + k]));
            for (int o = 0; o < outDim; o++)
            {
                double rounding = 0, magnitude = 0;
                for (int i = 0; i < inDim; i++)
                {
                    double w = Math.Abs(weight[o * inDim + i]);
                    rounding += w * blockMax[i] / 254;
                    magnitude += w * Math.Abs(x[r * inDim + i]);
                }
                double allowed = rounding * 1.0001 + 1e-5 * magnitude + 1e-6, error = Math.Abs(actual[r * outDim + o] - expected[r * outDim + o]);
                if (!(error <= allowed))
                    Assert.Fail($"linear {type} {rows}x{inDim}->{outDim}: output [{r}, {o}] is {actual[r * outDim + o]:R}, expected {expected[r * outDim + o]:R} (error {error:G3}, allowed {allowed:G3}: 8-bit x rounding {rounding:G3}, sum |w*x| {magnitude:G3})");
            }
        }
    }
}
