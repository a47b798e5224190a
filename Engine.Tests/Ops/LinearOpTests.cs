using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class LinearOpTests(string backend) : OpTestBase(backend)
{
    /// <summary>rows 1 is the matrix-vector path; inDim 64/128 take packed loads, 37/100 the element path; rows 70 and outDim 65/130 leave partial tiles.</summary>
    [Test]
    public void MatchesReference(
        [Values(DType.F32, DType.F16, DType.BF16)] DType dtype,
        [Values(1, 5, 70)] int rows,
        [Values(37, 64, 128)] int inDim,
        [Values(1, 65, 130)] int outDim)
    {
        Run(dtype, null, rows, inDim, outDim);
    }

    [Test]
    public void AddsBiasOfAnyDtype([Values(DType.F32, DType.F16, DType.BF16)] DType weightType, [Values(DType.F32, DType.F16, DType.BF16)] DType biasType, [Values(1, 3)] int rows)
    {
        Run(weightType, biasType, rows, 48, 33);
    }

    [Test]
    public void ReadsWeightViews([Values(1, 4)] int rows)
    {
        // A weight that starts mid-buffer (e.g. one of fused q/k/v), at an offset that defeats 16-byte packs.
        var rng = Rng("view", rows);
        const int inDim = 32, outDim = 9, skip = 3;
        var x = TestTensor.Random(DType.F32, rows * inDim, rng);
        var all = TestTensor.Random(DType.BF16, (skip + outDim) * inDim + 1, rng);
        using var allDev = all.ToDevice(Backend);
        using var xDev = x.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, rows * outDim);
        foreach (int offset in new[] { skip * inDim, skip * inDim + 1 })
        {
            var weight = allDev.View(offset, outDim * inDim);
            Backend.Linear(xDev, weight, null, output, rows, inDim, outDim);
            double[] expected = OpReference.Linear(x.Values, all.Values.Skip(offset).Take(outDim * inDim).ToArray(), null, rows, inDim, outDim);
            Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, rows * outDim), 1e-5, 1e-5, $"linear on a view at {offset}");
        }
    }

    private void Run(DType dtype, DType? biasType, int rows, int inDim, int outDim)
    {
        var rng = Rng(dtype, biasType?.ToString() ?? "none", rows, inDim, outDim);
        var x = TestTensor.Random(DType.F32, rows * inDim, rng);
        var weight = TestTensor.Random(dtype, outDim * inDim, rng);
        TestTensor? bias = biasType is { } b ? TestTensor.Random(b, outDim, rng) : null;
        using var xDev = x.ToDevice(Backend);
        using var weightDev = weight.ToDevice(Backend);
        using var biasDev = bias?.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, rows * outDim);
        Backend.Linear(xDev, weightDev, biasDev, output, rows, inDim, outDim);
        double[] expected = OpReference.Linear(x.Values, weight.Values, bias?.Values, rows, inDim, outDim);
        // F32 accumulation of inDim products of magnitude <= 1.
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, rows * outDim), 2e-6 * inDim, 1e-5, $"linear {dtype} {rows}x{inDim}->{outDim}");
    }
}
