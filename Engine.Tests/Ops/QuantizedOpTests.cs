using Engine.Core;
using Engine.Kernels;
using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>Linear and embedding over Q8_0 weights against a float64 reference over the dequantized weights.</summary>
public sealed class QuantizedOpTests(string backend) : OpTestBase(backend)
{
    /// <summary>Random Q8_0 blocks (f16 scales around 0.01-0.05, int8 values over the whole range) and their values d * q.</summary>
    private static (byte[] Bytes, double[] Values) RandomQ8_0(int elements, Random rng)
    {
        var bytes = new byte[elements / 32 * 34];
        var values = new double[elements];
        for (int b = 0; b < elements / 32; b++)
        {
            var d = (Half)(0.01 + 0.04 * rng.NextDouble());
            BitConverter.TryWriteBytes(bytes.AsSpan(b * 34), BitConverter.HalfToUInt16Bits(d));
            for (int i = 0; i < 32; i++)
            {
                sbyte q = (sbyte)rng.Next(-127, 128);
                bytes[b * 34 + 2 + i] = (byte)q;
                values[b * 32 + i] = (float)((float)d * q); // as ggml: q * d in float
            }
        }
        return (bytes, values);
    }

    private DeviceArray Upload(byte[] bytes, long elements)
    {
        if (!Backend.SupportsWeightType(DType.Q8_0)) Assert.Ignore($"{BackendName} has no Q8_0 kernels (Q8_0 weights are dequantized at load there)");
        var array = Backend.Allocate(DType.Q8_0, elements);
        Backend.Upload<byte>(array, bytes);
        return array;
    }

    /// <summary>rows 1 is decode (matrix-vector), 5 and 70 prefill (partial tiles); outDim 65 leaves a partial weight chunk.</summary>
    [Test]
    public void LinearMatchesReference([Values(1, 5, 70)] int rows, [Values(32, 96, 256)] int inDim, [Values(1, 65)] int outDim)
    {
        var rng = Rng("q8_0", rows, inDim, outDim);
        var x = TestTensor.Random(DType.F32, rows * inDim, rng);
        var (bytes, values) = RandomQ8_0(outDim * inDim, rng);
        using var weight = Upload(bytes, outDim * inDim);
        using var xDev = x.ToDevice(Backend);
        var bias = TestTensor.Random(DType.F32, outDim, rng);
        using var biasDev = bias.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, rows * outDim);
        Backend.Linear(xDev, weight, biasDev, output, rows, inDim, outDim);
        double[] expected = OpReference.Linear(x.Values, values, bias.Values, rows, inDim, outDim);
        // F32 accumulation of inDim products of magnitude <= 127 * 0.05.
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, rows * outDim), 2e-6 * inDim * 6, 1e-5, $"linear Q8_0 {rows}x{inDim}->{outDim}");
    }

    [Test]
    public void LinearReadsARowRangeView()
    {
        var rng = Rng("q8_0-view");
        const int inDim = 64, outDim = 5, skipRows = 3;
        var (bytes, values) = RandomQ8_0((skipRows + outDim) * inDim, rng);
        using var all = Upload(bytes, (skipRows + outDim) * inDim);
        var x = TestTensor.Random(DType.F32, inDim, rng);
        using var xDev = x.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, outDim);
        Backend.Linear(xDev, all.View(skipRows * inDim, outDim * inDim), null, output, 1, inDim, outDim);
        double[] expected = OpReference.Linear(x.Values, values.Skip(skipRows * inDim).ToArray(), null, 1, inDim, outDim);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, outDim), 1e-4, 1e-5, "linear on a Q8_0 view");
    }

    [Test]
    public void EmbeddingDequantizesRowsExactly()
    {
        var rng = Rng("q8_0-embedding");
        const int vocab = 10, hidden = 64;
        var (bytes, values) = RandomQ8_0(vocab * hidden, rng);
        using var table = Upload(bytes, vocab * hidden);
        int[] ids = [3, 0, 9, 3];
        using var tokens = TestTensor.Ints(Backend, ids);
        using var output = Backend.Allocate(DType.F32, ids.Length * hidden);
        Backend.Embedding(table, tokens, output, ids.Length, hidden);
        double[] expected = ids.SelectMany(id => values.Skip(id * hidden).Take(hidden)).ToArray();
        Assert.That(TestTensor.Download(Backend, output, ids.Length * hidden), Is.EqualTo(expected));
    }
}
