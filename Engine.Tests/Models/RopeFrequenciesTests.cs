using Engine.Core;
using Engine.Core.Config;
using NUnit.Framework;

namespace Engine.Tests.Models;

public class RopeFrequenciesTests
{
    private static double Base(int j, int d, double theta) => Math.Pow(theta, -2.0 * j / d);

    [Test]
    public void UnscaledFollowsThetaPower()
    {
        var f = RopeFrequencies.Compute(64, 10000, new RopeScaling(RopeScalingType.None));
        Assert.That(f.Length, Is.EqualTo(32));
        for (int j = 0; j < 32; j++) Assert.That(f[j], Is.EqualTo(Base(j, 64, 10000)).Within(1e-4).Percent);
    }

    [Test]
    public void LinearDividesByFactor()
    {
        var f = RopeFrequencies.Compute(16, 500000, new RopeScaling(RopeScalingType.Linear, Factor: 4));
        for (int j = 0; j < 8; j++) Assert.That(f[j], Is.EqualTo(Base(j, 16, 500000) / 4).Within(1e-4).Percent);
    }

    [Test]
    public void Llama3ScalesEachBandAsTransformersDoes()
    {
        // llama-tiny's settings: head dim 16, theta 5e5, factor 8, original context 8192: bands low/medium/high all occur.
        var scaling = new RopeScaling(RopeScalingType.Llama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 8192);
        var f = RopeFrequencies.Compute(16, 500000, scaling);
        var bands = new HashSet<string>();
        for (int j = 0; j < 8; j++)
        {
            double b = Base(j, 16, 500000), wavelen = 2 * Math.PI / b, expected;
            if (wavelen < 8192 / 4.0) { expected = b; bands.Add("high"); }
            else if (wavelen > 8192 / 1.0) { expected = b / 8; bands.Add("low"); }
            else
            {
                double smooth = (8192 / wavelen - 1) / (4 - 1);
                expected = (1 - smooth) * b / 8 + smooth * b;
                bands.Add("medium");
            }
            Assert.That(f[j], Is.EqualTo(expected).Within(1e-4).Percent, $"j={j}");
        }
        Assert.That(bands, Is.EquivalentTo(new[] { "high", "medium", "low" }));
    }

    [Test]
    public void OddHeadDimIsAnError() =>
        Assert.Throws<EngineException>(() => RopeFrequencies.Compute(7, 10000, new RopeScaling(RopeScalingType.None)));
}
