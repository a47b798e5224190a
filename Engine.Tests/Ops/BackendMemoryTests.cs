using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>Allocation, transfers and views: the plumbing every op relies on.</summary>
public sealed class BackendMemoryTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void RoundTripsThroughViewsAndCountsBytes()
    {
        var rng = Rng("roundtrip");
        long before = Backend.AllocatedBytes, toDevice = Backend.Transfers.BytesToDevice, toHost = Backend.Transfers.BytesToHost;
        float[] data = TestTensor.Random(DType.F32, 100, rng).Floats!;
        using (var array = Backend.Allocate(DType.F32, 100))
        {
            Assert.That(Backend.AllocatedBytes, Is.EqualTo(before + 400));
            Assert.That(Backend.PeakAllocatedBytes, Is.GreaterThanOrEqualTo(before + 400));
            Backend.Upload<float>(array, data);
            var view = array.View(10, 20);
            float[] patch = TestTensor.Random(DType.F32, 5, rng).Floats!;
            Backend.Upload<float>(view, patch, 3);
            var back = new float[20];
            Backend.Download<float>(view, back);
            float[] expected = data.Skip(10).Take(20).ToArray();
            Array.Copy(patch, 0, expected, 3, 5);
            Assert.That(back, Is.EqualTo(expected));
            var tail = new float[4];
            Backend.Download<float>(array, tail, 96);
            Assert.That(tail, Is.EqualTo(data.Skip(96).ToArray()));
        }
        Assert.That(Backend.AllocatedBytes, Is.EqualTo(before));
        Assert.That(Backend.Transfers.BytesToDevice - toDevice, Is.EqualTo(400 + 20));
        Assert.That(Backend.Transfers.BytesToHost - toHost, Is.EqualTo(80 + 16));
    }

    [Test]
    public void RejectsMismatchedTransfers()
    {
        using var array = Backend.Allocate(DType.BF16, 8);
        Assert.Throws<ArgumentException>(() => Backend.Upload<float>(array, new float[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Backend.Upload<ushort>(array, new ushort[9]));
        Assert.Throws<ArgumentOutOfRangeException>(() => array.View(4, 5));
    }
}
