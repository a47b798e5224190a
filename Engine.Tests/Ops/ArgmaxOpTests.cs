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

    [Test]
    public void ArgmaxRowsFindsEachRowsLargest([Values(1, 3, 9)] int rows, [Values(7, 1000, 32000)] int count)
    {
        var rng = Rng("rows", rows, count);
        float[] x = TestTensor.Random(DType.F32, rows * count, rng, 10).Floats!;
        for (int r = 1; r < rows; r += 2)
        {
            // A tie within the row (the lower index wins), and a larger value in the next row it must not see.
            x[r * count + count / 2] = x[r * count + count - 1] = 40f;
            if (r + 1 < rows) x[(r + 1) * count + 1] = 45f;
        }
        using var xDev = Backend.Allocate(DType.F32, x.Length);
        Backend.Upload<float>(xDev, x);
        using var output = Backend.Allocate(DType.I32, rows);

        Backend.ArgmaxRows(xDev, rows, count, output);

        var expected = Enumerable.Range(0, rows).Select(r => OpReference.Argmax(x[(r * count)..((r + 1) * count)], count)).ToArray();
        var actual = new int[rows];
        Backend.Download<int>(output, actual);
        Assert.That(actual, Is.EqualTo(expected));
    }
}
