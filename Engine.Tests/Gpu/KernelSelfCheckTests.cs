using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>The runtime self-check of fast kernels against their portable twins, on ILGPU's CPU accelerator.</summary>
public sealed class KernelSelfCheckTests
{
    /// <summary>A "fast" SiLU*mul that swaps gate and up: a deliberately wrong kernel, checked against the real op.</summary>
    private static FastKernel WrongSiluMul(Action? onCheck = null) => new("WrongSiluMul", "SiluMulKernel", 1e-5, (backend, random) =>
    {
        onCheck?.Invoke();
        using var gate = backend.RandomArray(DType.F32, 50, random);
        using var up = backend.RandomArray(DType.F32, 50, random);
        return backend.CompareOutputs(50, output => backend.SiluMul(up, gate, output, 50), output => backend.SiluMul(gate, up, output, 50));
    });

    [Test]
    public void AWrongFastKernelFallsBackWithOneWarning()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var warnings = new List<string>();
        backend.Warn = warnings.Add;
        int checks = 0;
        var wrong = WrongSiluMul(() => checks++);
        long launches = backend.Launches.KernelLaunches;

        Assert.That(backend.UseFast(wrong), Is.False);
        Assert.That(backend.UseFast(wrong), Is.False);

        Assert.That(checks, Is.EqualTo(1), "checked once per device");
        Assert.That(warnings, Has.Count.EqualTo(1));
        Assert.That(warnings[0], Does.StartWith("warning: ilgpu-cpu").And.Contain("WrongSiluMul failed its self-check").And.Contain("using the portable SiluMulKernel"));
        Assert.That(backend.KernelsInUse, Is.EqualTo("portable"));
        var check = backend.KernelChecks.Single();
        Assert.That(check.Passed, Is.False);
        Assert.That(check.Detail, Does.Contain("largest relative difference"));
        Assert.That(backend.Launches.KernelLaunches, Is.EqualTo(launches), "the check's own launches are not the caller's");
    }

    [Test]
    public void ALaunchFailureFallsBack()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var warnings = new List<string>();
        backend.Warn = warnings.Add;
        var broken = new FastKernel("BrokenKernel", "PortableKernel", 1e-5, (_, _) => throw new InvalidOperationException("no such instruction"));
        Assert.That(backend.UseFast(broken), Is.False);
        Assert.That(warnings.Single(), Does.Contain("launch failed: InvalidOperationException: no such instruction"));
        Assert.That(backend.KernelsInUse, Is.EqualTo("portable"));
    }

    [Test]
    public void PortableNeverRunsAFastKernelNorItsCheck()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu, KernelSet.Portable)!;
        int checks = 0;
        Assert.That(backend.UseFast(WrongSiluMul(() => checks++)), Is.False);
        Assert.That(backend.UseFast(IlgpuBackend.PackedMatVec), Is.False);
        Assert.That(checks, Is.EqualTo(0));
        Assert.That(backend.KernelChecks, Is.Empty);
        Assert.That(backend.KernelsInUse, Is.EqualTo("portable"));
    }

    [Test]
    public void EveryRegisteredFastKernelMatchesItsTwinOnTheSimulator()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var checks = backend.CheckAllFastKernels();
        Assert.That(checks.Select(c => c.Kernel), Is.EquivalentTo(FastKernel.All.Select(k => k.Name)));
        Assert.That(checks, Has.All.Matches<KernelCheck>(c => c.Passed), string.Join("; ", checks.Select(c => $"{c.Kernel}: {c.Detail}")));
        Assert.That(backend.KernelsInUse, Is.EqualTo("fast"));
    }

    [Test]
    public void TheDecodeProductChecksItsFastestKernelOnFirstUse()
    {
        foreach (var set in new[] { KernelSet.Fast, KernelSet.Portable })
        {
            using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu, set)!;
            var random = new Random(3);
            using var x = backend.RandomArray(DType.F32, 64, random);
            using var w = backend.RandomArray(DType.BF16, 64 * 9, random);
            using var y = backend.Allocate(DType.F32, 9);
            backend.Linear(x, w, null, y, 1, 64, 9);
            var output = new float[9];
            backend.Download<float>(y, output);
            Assert.That(output, Has.All.Matches<float>(float.IsFinite));
            Assert.That(backend.KernelChecks.Select(c => c.Kernel), set == KernelSet.Fast ? Is.EqualTo(new[] { "MatVecRowsKernel" }) : Is.Empty);
        }
    }

    [Test]
    public void DoctorReportsTheSelfCheck()
    {
        var stdout = new StringWriter();
        int exit = Engine.Cli.CliApp.Run(["doctor", "--check-kernels", "ilgpu-cpu"], stdout, new StringWriter());
        Assert.That(exit, Is.EqualTo(0));
        Assert.That(stdout.ToString(), Does.Contain("kernel self-check on ilgpu-cpu").And.Contain("kernels fast").And.Contain("MatVecPackedKernel: passed").And.Contain("MatVecRowsKernel: passed"));
    }

    [Test]
    public void AnUnknownKernelSetIsOneErrorLine()
    {
        var stderr = new StringWriter();
        int exit = Engine.Cli.CliApp.Run(["run", "--model", "x", "--prompt", "hi", "--kernels", "turbo"], new StringWriter(), stderr);
        Assert.That(exit, Is.Not.EqualTo(0));
        Assert.That(stderr.ToString().Trim(), Is.EqualTo("error: --kernels: 'turbo' is not one of fast|portable"));
    }
}
