using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class ElementwiseOpTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void SiluMulMatchesReference([Values(1, 1000, 4099)] int count, [Values(false, true)] bool inPlace)
    {
        var rng = Rng(count, inPlace);
        var gate = TestTensor.Random(DType.F32, count, rng, 6.0);
        var up = TestTensor.Random(DType.F32, count, rng);
        using var gateDev = gate.ToDevice(Backend);
        using var upDev = up.ToDevice(Backend);
        using var separate = Backend.Allocate(DType.F32, count);
        var output = inPlace ? gateDev : separate;
        Backend.SiluMul(gateDev, upDev, output, count);
        Tolerance.AssertClose(OpReference.SiluMul(gate.Values, up.Values), TestTensor.Download(Backend, output, count), 1e-6, 1e-5, "silu*mul");
    }

    [Test]
    public void AddAccumulatesInPlace([Values(1, 1000, 4099)] int count)
    {
        var rng = Rng(count);
        var x = TestTensor.Random(DType.F32, count + 3, rng);
        var y = TestTensor.Random(DType.F32, count, rng);
        using var xDev = x.ToDevice(Backend);
        using var yDev = y.ToDevice(Backend);
        Backend.Add(xDev, yDev, count);
        // Elements past count stay untouched.
        double[] expected = OpReference.Add(x.Values.Take(count).ToArray(), y.Values).Concat(x.Values.Skip(count)).ToArray();
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, xDev, count + 3), 0, 1e-7, "add");
    }
}
