using Engine.Models.Evaluation;
using NUnit.Framework;

namespace Engine.Tests.Evaluation;

/// <summary><see cref="NextTokenComparison"/> against direct float64 formulas on random logits.</summary>
public class NextTokenComparisonTests
{
    [Test]
    public void MatchesDirectFormulasOnRandomLogits()
    {
        var random = new Random(5);
        const int vocab = 40, positions = 7;
        var comparison = new NextTokenComparison();
        double kl = 0, nllFull = 0, nllCompressed = 0, deltaP = 0, deltaP2 = 0;
        var kls = new List<double>();
        int agreements = 0;
        for (int p = 0; p < positions; p++)
        {
            float[] full = Enumerable.Range(0, vocab).Select(_ => (float)(random.NextDouble() * 6 - 3)).ToArray();
            float[] compressed = full.Select(x => x + (float)(random.NextDouble() - 0.5)).ToArray();
            int? target = p < positions - 1 ? random.Next(vocab) : null;
            comparison.Add(full, compressed, target);

            double[] pf = Softmax(full), pc = Softmax(compressed);
            double positionKl = pf.Select((x, i) => x * Math.Log(x / pc[i])).Sum();
            kl += positionKl;
            kls.Add(positionKl);
            if (Array.IndexOf(full, full.Max()) == Array.IndexOf(compressed, compressed.Max())) agreements++;
            if (target is int t)
            {
                nllFull -= Math.Log(pf[t]);
                nllCompressed -= Math.Log(pc[t]);
                deltaP += pc[t] - pf[t];
                deltaP2 += (pc[t] - pf[t]) * (pc[t] - pf[t]);
            }
        }
        kls.Sort();
        Assert.That(comparison.MaxKl, Is.EqualTo(kls[^1]).Within(1e-12));
        Assert.That(comparison.KlPercentile(50), Is.EqualTo(kls[3]).Within(1e-12), "the middle of 7");
        Assert.That(comparison.KlPercentile(100), Is.EqualTo(kls[^1]).Within(1e-12));
        Assert.That(comparison.KlPercentile(0), Is.EqualTo(kls[0]).Within(1e-12));
        Assert.That(comparison.KlPercentile(99), Is.EqualTo(kls[5] + 0.94 * (kls[6] - kls[5])).Within(1e-12), "rank 0.99 * 6 = 5.94");
        Assert.That(comparison.MeanDeltaP, Is.EqualTo(deltaP / (positions - 1)).Within(1e-12));
        Assert.That(comparison.RmsDeltaP, Is.EqualTo(Math.Sqrt(deltaP2 / (positions - 1))).Within(1e-12));
        Assert.That(comparison.MeanKl, Is.EqualTo(kl / positions).Within(1e-12));
        Assert.That(comparison.MeanKl, Is.GreaterThan(0));
        Assert.That(comparison.Top1Agreement, Is.EqualTo((double)agreements / positions));
        Assert.That(comparison.PerplexityFull, Is.EqualTo(Math.Exp(nllFull / (positions - 1))).Within(1e-9));
        Assert.That(comparison.PerplexityCompressed, Is.EqualTo(Math.Exp(nllCompressed / (positions - 1))).Within(1e-9));
    }

    [Test]
    public void IdenticalRowsGiveZeroKlAndFullAgreement()
    {
        var comparison = new NextTokenComparison();
        float[] logits = [0.3f, -1.2f, 2.5f, 0.9f];
        comparison.Add(logits, logits, 2);
        Assert.That(comparison.MeanKl, Is.EqualTo(0));
        Assert.That(comparison.Top1Agreement, Is.EqualTo(1));
        Assert.That(comparison.PerplexityCompressed, Is.EqualTo(comparison.PerplexityFull));
    }

    private static double[] Softmax(float[] logits)
    {
        double max = logits.Max();
        double[] e = logits.Select(x => Math.Exp(x - max)).ToArray();
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }
}
