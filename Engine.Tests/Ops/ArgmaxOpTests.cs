using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class ArgmaxOpTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void FindsLargest([Values(1, 2, 255, 1000, 32000)] int count)
    {
        var rng = Rng(count);
        float[] x = TestTensor.Random(DType.F32, count + 5, rng, 10).Floats!;
        x[count] = 1000f; // beyond count: must be ignored
        using var xDev = Backend.Allocate(DType.F32, x.Length);
        Backend.Upload<float>(xDev, x);
        Assert.That(Backend.Argmax(xDev, count), Is.EqualTo(OpReference.Argmax(x, count)));
    }

    [Test]
    public void TiesGoToTheLowestIndex([Values(300, 5000)] int count)
    {
        var rng = Rng("ties", count);
        float[] x = TestTensor.Random(DType.F32, count, rng).Floats!;
        int first = count / 3 + 7, second = count / 3, third = count - 1;
        x[first] = x[second] = x[third] = 50f;
        using var xDev = Backend.Allocate(DType.F32, count);
        Backend.Upload<float>(xDev, x);
        Assert.That(Backend.Argmax(xDev, count), Is.EqualTo(second));
    }
}
