using Engine.Core.Kv.LagKv;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>Length bookkeeping: the step-by-step schedule against the paper's formula, any chunking.</summary>
[TestFixture]
public class LagKvScheduleTests
{
    private static LagKvOptions Options(int sink, int lag, double retention) =>
        new() { SinkSize = sink, LagSize = lag, Retention = retention };

    /// <summary>Runs the schedule over steps of the given sizes; returns (length after each step, longest length attended).</summary>
    private static (List<int> Lengths, int MaxAttended) Run(LagKvOptions options, IEnumerable<int> steps)
    {
        var state = new LagKvLayerState();
        int length = 0, maxAttended = 0;
        var lengths = new List<int>();
        foreach (int step in steps)
        {
            length += step;
            maxAttended = Math.Max(maxAttended, length); // the step's attention uses the full cache
            if (LagKvSchedule.Plan(options, state.CompressedPartitions, length) is { } c)
            {
                Assert.That(c.LengthBefore, Is.EqualTo(length));
                Assert.That(c.Partitions, Is.GreaterThanOrEqualTo(1));
                length = c.LengthAfter;
                state.Apply(c);
                int window = length - LagKvSchedule.WindowStart(options, state.CompressedPartitions);
                Assert.That(window, Is.InRange(options.LagSize, 2 * options.LagSize - 1), "window after compression");
            }
            lengths.Add(length);
        }
        return (lengths, maxAttended);
    }

    [Test]
    public void WorkedExampleFromTheSpecification()
    {
        var options = Options(16, 128, 0.25);
        Assert.That(options.KeepPerPartition, Is.EqualTo(32));
        Assert.That(LagKvSchedule.LengthAfter(options, 5000), Is.EqualTo(1448));

        var prefill = Run(options, [5000]);
        Assert.That(prefill.Lengths[^1], Is.EqualTo(1448));

        var decode = Run(options, [5000, .. Enumerable.Repeat(1, 600)]);
        // The first compression in decode drops the cache to 1360; each one removes L - k slots.
        int firstDrop = Enumerable.Range(1, 600).First(i => decode.Lengths[i] < decode.Lengths[i - 1]);
        Assert.That(decode.Lengths[firstDrop], Is.EqualTo(1360));
        for (int i = 1; i <= 600; i++)
            if (decode.Lengths[i] < decode.Lengths[i - 1])
                Assert.That(decode.Lengths[i - 1] + 1 - decode.Lengths[i], Is.EqualTo(128 - 32));
        int longestDecodeAttention = Enumerable.Range(1, 600).Max(i => decode.Lengths[i - 1] + 1);
        Assert.That(longestDecodeAttention, Is.EqualTo(1584));
        Assert.That(decode.Lengths[^1], Is.EqualTo(LagKvSchedule.LengthAfter(options, 5600)));
    }

    [Test]
    public void ShortSequencesAreUntouched()
    {
        var options = Options(16, 64, 0.25);
        var run = Run(options, Enumerable.Repeat(1, 16 + 2 * 64 - 1));
        Assert.That(run.Lengths, Is.EqualTo(Enumerable.Range(1, 16 + 2 * 64 - 1).ToList()));
        Assert.That(LagKvSchedule.Plan(options, 0, 16 + 2 * 64 - 1), Is.Null);
        Assert.That(LagKvSchedule.Plan(options, 0, 16 + 2 * 64), Is.Not.Null);
        Assert.That(LagKvSchedule.LengthAfter(options, 143), Is.EqualTo(143));
    }

    [Test]
    public void RandomChunkingsFollowTheFormula()
    {
        var random = new Random(1234);
        for (int trial = 0; trial < 300; trial++)
        {
            int sink = random.Next(0, 40);
            int lag = random.Next(2, 200);
            double retention = 1.0 / random.Next(2, 33);
            if ((int)Math.Floor(retention * lag) < 1) retention = 0.5;
            var options = Options(sink, lag, retention);
            int prompt = random.Next(1, 3000);
            var steps = new List<int>();
            for (int left = prompt; left > 0;)
            {
                int chunk = Math.Min(left, random.Next(1, 2 * lag + 50));
                steps.Add(chunk); left -= chunk;
            }
            int decode = random.Next(0, 800);
            steps.AddRange(Enumerable.Repeat(1, decode));

            var run = Run(options, steps);
            long seen = 0;
            for (int i = 0; i < steps.Count; i++)
            {
                seen += steps[i];
                Assert.That(run.Lengths[i], Is.EqualTo(LagKvSchedule.LengthAfter(options, seen)),
                    $"S={sink} L={lag} r={retention} after {seen} tokens (step {i})");
            }
        }
    }

    [Test]
    public void CompressionPlanMovesTheLastCompletePartitionAndRemainder()
    {
        var options = Options(16, 64, 0.125);
        // 16 + 5*64 + 10 slots, nothing compressed yet: partitions 0..3 compressed, partition 4 and 10 tokens stay.
        var plan = LagKvSchedule.Plan(options, 0, 16 + 5 * 64 + 10)!.Value;
        Assert.That(plan.WindowStart, Is.EqualTo(16));
        Assert.That(plan.Partitions, Is.EqualTo(4));
        Assert.That(plan.Keep, Is.EqualTo(8));
        Assert.That(plan.TailSource, Is.EqualTo(16 + 4 * 64));
        Assert.That(plan.TailLength, Is.EqualTo(74));
        Assert.That(plan.TailDestination, Is.EqualTo(16 + 32));
        Assert.That(plan.LengthAfter, Is.EqualTo(16 + 32 + 74));
        // With 4 partitions already compressed, the window starts at 16 + 4*8.
        var next = LagKvSchedule.Plan(options, 4, 16 + 32 + 128)!.Value;
        Assert.That((next.WindowStart, next.FirstPartition, next.Partitions, next.TailLength), Is.EqualTo((48, 4, 1, 64)));
    }

    [Test]
    public void PressKeepsFloorOfTheRetainedFraction()
    {
        var options = Options(16, 128, 0.25);
        Assert.That(LagKvSchedule.PressKeepCount(options, 5000), Is.EqualTo(1250));
        Assert.That(LagKvSchedule.PressKeepCount(options, 5003), Is.EqualTo(1250));
        Assert.That(LagKvSchedule.PressKeepCount(options, 100), Is.EqualTo(100), "below S + 2L nothing is compressed");
        var fifth = Options(16, 128, 0.2);
        Assert.That(LagKvSchedule.PressKeepCount(fifth, 1000), Is.EqualTo(200));
    }
}
