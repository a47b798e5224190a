using Engine.Kernels.Cpu;
using NUnit.Framework;

namespace Engine.Tests.Cpu;

[TestFixture]
public sealed class WorkerPoolTests
{
    [Test]
    public void EveryItemRunsExactlyOnceAcrossManyJobs()
    {
        using var pool = new WorkerPool(4);
        for (int job = 0; job < 200; job++)
        {
            int items = 1 + job % 37;
            var hits = new int[items];
            pool.For(items, i => Interlocked.Increment(ref hits[i]));
            Assert.That(hits, Is.All.EqualTo(1), $"job {job}");
        }
    }

    [Test]
    public void FailureInAnItemIsRethrownAndThePoolStaysUsable()
    {
        using var pool = new WorkerPool(3);
        Assert.That(() => pool.For(10, i => { if (i == 7) throw new InvalidOperationException("item 7"); }),
            Throws.InvalidOperationException.With.Message.EqualTo("item 7"));
        int sum = 0;
        pool.For(10, i => Interlocked.Add(ref sum, i));
        Assert.That(sum, Is.EqualTo(45));
    }
}
