using Engine.Core;
using Engine.Core.Sampling;
using NUnit.Framework;

namespace Engine.Tests.Sampling;

public class SamplerTests
{
    private static float[] RandomLogits(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 8 - 4)).ToArray();
    }

    [Test]
    public void GreedyPicksTheLargestLogit()
    {
        var logits = RandomLogits(100, 1);
        int expected = Array.IndexOf(logits, logits.Max());
        Assert.That(new Sampler(SamplingOptions.Greedy).Sample(logits, []), Is.EqualTo(expected));
    }

    [Test]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegative()
    {
        double[] scores = [2.0, -2.0, 3.0, 1.0];
        Sampler.ApplyRepetitionPenalty(scores, [0, 1, 1], 2.0);
        Assert.That(scores, Is.EqualTo(new[] { 1.0, -4.0, 3.0, 1.0 }));
    }

    [Test]
    public void RepetitionPenaltyChangesTheGreedyChoice()
    {
        float[] logits = [1.0f, 3.0f, 2.5f];
        var sampler = new Sampler(SamplingOptions.Greedy with { RepetitionPenalty = 1.5 });
        Assert.That(sampler.Sample(logits, [1]), Is.EqualTo(2));
    }

    [Test]
    public void TopKKeepsKLargestAndTies()
    {
        double[] scores = [1, 5, 3, 5, 2];
        Sampler.ApplyTopK(scores, 2);
        Assert.That(scores.Select(double.IsNegativeInfinity), Is.EqualTo(new[] { true, false, true, false, true }));
    }

    [Test]
    public void TopPKeepsSmallestSetReachingP()
    {
        // probabilities 0.5, 0.3, 0.15, 0.05 (as logs): p = 0.8 keeps the first two, p = 0.81 the first three.
        double[] Probs() => [Math.Log(0.5), Math.Log(0.3), Math.Log(0.15), Math.Log(0.05)];
        var sampler = new Sampler(new SamplingOptions { Seed = 1 });
        var a = Probs(); sampler.ApplyTopP(a, 0.79);
        Assert.That(a.Count(double.IsFinite), Is.EqualTo(2));
        var b = Probs(); sampler.ApplyTopP(b, 0.81);
        Assert.That(b.Count(double.IsFinite), Is.EqualTo(3));
    }

    [Test]
    public void MinPDropsTokensBelowFractionOfTop()
    {
        double[] scores = [Math.Log(0.6), Math.Log(0.25), Math.Log(0.1), Math.Log(0.05)];
        Sampler.ApplyMinP(scores, 0.2); // threshold 0.12
        Assert.That(scores.Select(double.IsFinite), Is.EqualTo(new[] { true, true, false, false }));
    }

    [Test]
    public void SeededSamplingIsReproducibleAndFollowsTheDistribution()
    {
        var logits = RandomLogits(8, 3);
        var options = new SamplingOptions { Temperature = 1.0, Seed = 42 };
        var a = new Sampler(options); var b = new Sampler(options);
        var draws = Enumerable.Range(0, 20000).Select(_ => a.Sample(logits, [])).ToArray();
        Assert.That(Enumerable.Range(0, 200).Select(_ => b.Sample(logits, [])), Is.EqualTo(draws.Take(200)));

        var probs = Sampler.Softmax(logits.Select(l => (double)l).ToArray());
        for (int i = 0; i < 8; i++)
            Assert.That(draws.Count(d => d == i) / 20000.0, Is.EqualTo(probs[i]).Within(0.015), $"token {i}");
    }

    [Test]
    public void LowTemperatureWithTopKOneIsGreedy()
    {
        var logits = RandomLogits(50, 9);
        var sampler = new Sampler(new SamplingOptions { Temperature = 0.7, TopK = 1, Seed = 5 });
        int expected = Array.IndexOf(logits, logits.Max());
        for (int i = 0; i < 20; i++) Assert.That(sampler.Sample(logits, []), Is.EqualTo(expected));
    }

    [TestCase(-1.0, 0, 1.0, 0.0, 1.0)]
    [TestCase(1.0, -1, 1.0, 0.0, 1.0)]
    [TestCase(1.0, 0, 0.0, 0.0, 1.0)]
    [TestCase(1.0, 0, 1.0, 1.5, 1.0)]
    [TestCase(1.0, 0, 1.0, 0.0, 0.0)]
    public void OutOfRangeOptionsAreEngineErrors(double t, int k, double p, double minP, double penalty) =>
        Assert.Throws<EngineException>(() => new Sampler(new SamplingOptions { Temperature = t, TopK = k, TopP = p, MinP = minP, RepetitionPenalty = penalty }));

    [Test]
    public void TopLogprobsAreLogSoftmaxOfRawLogits()
    {
        var logits = RandomLogits(300, 4);
        var top = TopLogprobs.Compute(logits, 5);
        double logZ = Math.Log(logits.Sum(l => Math.Exp(l)));
        var expectedIds = logits.Select((l, i) => (l, i)).OrderByDescending(x => x.l).Take(5).Select(x => x.i);
        Assert.That(top.Select(t => t.Id), Is.EqualTo(expectedIds));
        foreach (var t in top) Assert.That(t.Logprob, Is.EqualTo(logits[t.Id] - logZ).Within(1e-9));
        Assert.Throws<EngineException>(() => TopLogprobs.Compute(logits, 21));
    }
}
