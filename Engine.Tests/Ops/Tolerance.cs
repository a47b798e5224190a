using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>Element-wise comparison |actual - expected| &lt;= abs + rel * |expected|, reporting the worst element.</summary>
public static class Tolerance
{
    public static void AssertClose(double[] expected, double[] actual, double abs, double rel, string what)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length), $"{what}: length");
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            double allowed = abs + rel * Math.Abs(expected[i]);
            if (double.IsNaN(actual[i]) || error > allowed)
            {
                double excess = double.IsNaN(actual[i]) ? double.PositiveInfinity : error - allowed;
                if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
            }
        }
        if (worst >= 0)
            Assert.Fail($"{what}: element {worst} is {actual[worst]:R}, expected {expected[worst]:R} (tolerance {abs:G2} + {rel:G2}*|x|)");
    }

    public static double[] Widen(float[] values) => values.Select(v => (double)v).ToArray();
}
