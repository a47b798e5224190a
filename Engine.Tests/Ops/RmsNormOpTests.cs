using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class RmsNormOpTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void MatchesReference([Values(DType.F32, DType.F16, DType.BF16)] DType dtype, [Values(1, 3)] int rows, [Values(8, 100, 300)] int dim)
    {
        var rng = Rng(dtype, rows, dim);
        var x = TestTensor.Random(DType.F32, rows * dim, rng, 3.0);
        var weight = TestTensor.Random(dtype, dim, rng);
        using var xDev = x.ToDevice(Backend);
        using var weightDev = weight.ToDevice(Backend);
        using var output = Backend.Allocate(DType.F32, rows * dim);
        Backend.RmsNorm(xDev, weightDev, output, rows, dim, 1e-5f);
        double[] expected = OpReference.RmsNorm(x.Values, weight.Values, rows, dim, 1e-5);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, rows * dim), 1e-6, 1e-5, "rmsnorm");
    }

    [Test]
    public void WorksInPlace()
    {
        var rng = Rng("inplace");
        const int rows = 2, dim = 40;
        var x = TestTensor.Random(DType.F32, rows * dim, rng);
        var weight = TestTensor.Random(DType.BF16, dim, rng);
        using var xDev = x.ToDevice(Backend);
        using var weightDev = weight.ToDevice(Backend);
        Backend.RmsNorm(xDev, weightDev, xDev, rows, dim, 1e-6f);
        Tolerance.AssertClose(OpReference.RmsNorm(x.Values, weight.Values, rows, dim, 1e-6), TestTensor.Download(Backend, xDev, rows * dim), 1e-6, 1e-5, "rmsnorm in place");
    }
}
