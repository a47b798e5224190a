using Engine.Kernels;
using Engine.Kernels.Cpu;
using NUnit.Framework;

namespace Engine.Tests.Cpu;

/// <summary>
/// The op-conformance suite (`engine selftest`) with the SIMD backend's fast kernels as the tested backend and
/// its portable ones (float activations over quantized weights) as the reference: every case passes, so every
/// block-quantized type's 8-bit-activation kernels stay within the suite's quantized tolerance.
/// </summary>
public sealed class SimdConformanceTests
{
    [Test]
    public void FastKernelsPassEveryConformanceCaseAgainstPortableOnes()
    {
        using var fast = new SimdBackend(2);
        using var portable = new SimdBackend(2, KernelSet.Portable);
        var results = new BackendConformance(fast, portable).RunAll();
        Assert.That(results.Select(r => r.Name), Has.Some.EqualTo("linear q4_k rows 70 in 768"));
        var failed = results.Where(r => !r.Passed).Select(r => $"{r.Name}: error {r.Error:G3} (tolerance {r.Tolerance:G3}) {r.Failure}").ToList();
        Assert.That(failed, Is.Empty);
        TestContext.Out.WriteLine(string.Join("\n", results.Where(r => r.Name.Contains('q')).Select(r => $"{r.Name}: {r.Error:G3}")));
    }
}
