using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class RopeOpTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void RotatesHalves([Values(1, 6)] int rows, [Values(1, 3)] int heads, [Values(8, 64)] int headDim, [Values(10, 4000)] int maxPosition)
    {
        var rng = Rng(rows, heads, headDim, maxPosition);
        var x = TestTensor.Random(DType.F32, rows * heads * headDim, rng);
        int[] positions = Enumerable.Range(0, rows).Select(_ => rng.Next(maxPosition)).ToArray();
        float[] invFreq = Enumerable.Range(0, headDim / 2).Select(j => (float)Math.Pow(10000.0, -2.0 * j / headDim)).ToArray();
        using var xDev = x.ToDevice(Backend);
        using var positionsDev = TestTensor.Ints(Backend, positions);
        using var freqDev = TestTensor.FromFloats(DType.F32, invFreq).ToDevice(Backend);
        Backend.Rope(xDev, positionsDev, freqDev, rows, heads, headDim);
        double[] expected = OpReference.Rope(x.Values, positions, invFreq, rows, heads, headDim);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, xDev, x.Length), 2e-5, 1e-5, "rope");
    }
}
