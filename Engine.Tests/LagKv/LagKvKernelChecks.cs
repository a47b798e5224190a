using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>Checks a backend's LagKV op outputs for a <see cref="LagKvTestLayer"/> against the float64 reference.</summary>
public static class LagKvKernelChecks
{
    /// <summary>Score tolerance: fp32 statistics against float64, relative to the score.</summary>
    private const double ScoreRelativeTolerance = 1e-5;
    /// <summary>Selections are compared only where the k-th and (k+1)-th reference scores differ by more than this (relative).</summary>
    private const double TieMargin = 1e-5;

    public static void Scores(LagKvTestLayer layer, float[] scores)
    {
        var c = layer.Compression;
        for (int h = 0; h < layer.Layout.KvHeads; h++)
            for (int p = 0; p < c.Partitions; p++)
            {
                double[] expected = layer.ReferenceScores(h, p);
                for (int t = 0; t < c.LagSize; t++)
                {
                    double got = scores[(h * c.Partitions + p) * c.LagSize + t];
                    Assert.That(got, Is.EqualTo(expected[t]).Within(ScoreRelativeTolerance * expected[t] + 1e-9),
                        $"score head {h} partition {p} token {t}");
                }
            }
    }

    public static void Selection(LagKvTestLayer layer, int[] kept)
    {
        var c = layer.Compression;
        int compared = 0, partitions = 0;
        for (int h = 0; h < layer.Layout.KvHeads; h++)
            for (int p = 0; p < c.Partitions; p++)
            {
                partitions++;
                int[] mine = kept.AsSpan((h * c.Partitions + p) * c.Keep, c.Keep).ToArray();
                Assert.That(mine, Is.Ordered.Ascending.And.Unique, $"kept offsets head {h} partition {p}");
                Assert.That(mine, Has.All.InRange(0, c.LagSize - 1));
                double[] reference = layer.ReferenceScores(h, p);
                double top = reference.Max();
                if (LagKvHostReference.SelectionMargin(reference, c.Keep) < TieMargin * top) continue;
                compared++;
                Assert.That(mine, Is.EqualTo(LagKvHostReference.TopKAscending(reference, c.Keep)), $"kept set head {h} partition {p}");
            }
        Assert.That(compared, Is.GreaterThan(partitions / 2), "too many near-ties: the selection was barely checked");
    }

    /// <summary>The compacted layer holds the sink/prefix unchanged, then the kept rows, then the tail, bit for bit.</summary>
    public static void Compaction(LagKvTestLayer layer, int[] kept, byte[] keys, byte[] values)
    {
        var c = layer.Compression;
        for (int h = 0; h < layer.Layout.KvHeads; h++)
        {
            for (int s = 0; s < c.WindowStart; s++)
                AssertRow(layer, keys, values, h, s, s, "prefix");
            int slot = c.WindowStart;
            for (int p = 0; p < c.Partitions; p++)
                for (int i = 0; i < c.Keep; i++)
                    AssertRow(layer, keys, values, h, slot++, c.WindowStart + p * c.LagSize + kept[(h * c.Partitions + p) * c.Keep + i], "kept");
            for (int i = 0; i < c.TailLength; i++)
                AssertRow(layer, keys, values, h, slot++, c.TailSource + i, "tail");
            Assert.That(slot, Is.EqualTo(c.LengthAfter));
        }
    }

    private static void AssertRow(LagKvTestLayer layer, byte[] keys, byte[] values, int head, int slot, int originalSlot, string what)
    {
        Assert.That(layer.Load(keys, head, slot), Is.EqualTo(layer.KeyRows[head][originalSlot]), $"{what} key: head {head} slot {slot} <- {originalSlot}");
        Assert.That(layer.Load(values, head, slot), Is.EqualTo(layer.ValueRows[head][originalSlot]), $"{what} value: head {head} slot {slot} <- {originalSlot}");
    }

    /// <summary>Layer shapes: (kvHeads, headDim, pageSize, sink, lag, retention, compressed partitions, length).</summary>
    public static IEnumerable<object[]> Shapes()
    {
        yield return [2, 16, 16, 16, 64, 0.25, 0, 16 + 5 * 64 + 10];
        yield return [1, 32, 8, 4, 32, 0.5, 3, 4 + 3 * 16 + 2 * 32];
        yield return [4, 64, 32, 16, 128, 0.125, 1, 16 + 16 + 3 * 128 + 127];
        yield return [2, 8, 4, 0, 16, 1.0 / 3, 2, 2 * 5 + 4 * 16 + 3];
        yield return [3, 16, 64, 7, 40, 0.2, 0, 7 + 2 * 40];
    }
}
