using System.Runtime.Intrinsics;
using Engine.Kernels.Cpu;
using NUnit.Framework;

namespace Engine.Tests.Cpu;

/// <summary>The SIMD backend's vector exp and max against float64, at both vector widths.</summary>
public sealed unsafe class SimdMathTests
{
    private static IEnumerable<string> Widths()
    {
        if (Vector256.IsHardwareAccelerated) yield return "256";
        if (Vector512.IsHardwareAccelerated) yield return "512";
    }

    [TestCaseSource(nameof(Widths))]
    public void ExpShiftedAndSumMatchesFloat64(string width)
    {
        var rng = new Random(17);
        // 1000 values (not a multiple of either width, so the scalar tail runs too) spread over the whole
        // range a softmax sees, including below the clamp where exp is subnormal.
        var values = new float[1000];
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 120 - 100);
        float max = values.Max();
        // The shift is a float subtraction (as in the kernel); exp itself is what is checked in float64.
        var expected = values.Select(v => Math.Exp(v - max)).ToArray();
        float sum;
        fixed (float* p = values)
            sum = width == "512" ? SimdMath.ExpShiftedAndSum<Simd512>(p, values.Length, max) : SimdMath.ExpShiftedAndSum<Simd256>(p, values.Length, max);
        for (int i = 0; i < values.Length; i++)
        {
            if (expected[i] < 1.2e-38) Assert.That(values[i], Is.InRange(0f, 1.3e-38f), $"element {i}: below the clamp");
            else Assert.That(values[i], Is.EqualTo(expected[i]).Within(3e-7 * expected[i]), $"element {i}: e^{values[i]} vs {expected[i]}");
        }
        Assert.That(sum, Is.EqualTo(expected.Sum()).Within(1e-6 * expected.Sum()));
    }

    [TestCaseSource(nameof(Widths))]
    public void MaxFindsTheLargestAndRespectsTheFloor(string width)
    {
        var rng = new Random(3);
        var values = Enumerable.Range(0, 37).Select(_ => (float)(rng.NextDouble() * 10 - 5)).ToArray();
        float Max(float floor)
        {
            fixed (float* p = values) return width == "512" ? SimdMath.Max<Simd512>(p, values.Length, floor) : SimdMath.Max<Simd256>(p, values.Length, floor);
        }
        Assert.That(Max(float.NegativeInfinity), Is.EqualTo(values.Max()));
        Assert.That(Max(100f), Is.EqualTo(100f));
        values[36] = 7.5f; // the largest in the scalar tail
        Assert.That(Max(float.NegativeInfinity), Is.EqualTo(7.5f));
    }
}
