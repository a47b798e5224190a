using System.Diagnostics;
using System.Reflection;
using Engine.Kernels.Ilgpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>
/// Every ILGPU kernel (every generic instantiation the backend launches) compiles offline to PTX for
/// sm_90, and, where ptxas is available, the PTX passes `ptxas -arch=sm_90`. This catches code that
/// only fails on a GPU, on machines without one.
/// </summary>
[NonParallelizable]
public sealed class PtxCompilationTests
{
    private Context? _context;
    private PTXBackend? _backend;

    private static IEnumerable<TestCaseData> Kernels() =>
        IlgpuBackend.KernelEntryPoints().Select(m => new TestCaseData(m).SetArgDisplayNames(DisplayName(m)));

    [OneTimeSetUp]
    public void CreateBackend()
    {
        _context = Context.Create(b => b.EnableAlgorithms());
        _backend = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, nvvmAPI: null);
    }

    [OneTimeTearDown]
    public void DisposeBackend()
    {
        _backend?.Dispose();
        _context?.Dispose();
    }

    [Test]
    public void EveryKernelMethodIsListed()
    {
        var listed = IlgpuBackend.KernelEntryPoints().Select(m => m.IsGenericMethod ? m.GetGenericMethodDefinition() : m).ToHashSet();
        var kernels = typeof(IlgpuBackend).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(m => m.Name.EndsWith("Kernel", StringComparison.Ordinal));
        Assert.That(kernels.Where(k => !listed.Contains(k)).Select(k => k.Name), Is.Empty, "kernels without [KernelInstance]");
        Assert.That(listed, Has.Count.GreaterThanOrEqualTo(12));
    }

    [TestCaseSource(nameof(Kernels))]
    public void CompilesToValidPtx(MethodInfo kernel)
    {
        var compiled = (PTXCompiledKernel)_backend!.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization());
        string ptx = compiled.PTXAssembly;
        Assert.That(ptx, Does.Contain(".entry"), "no kernel entry in the PTX");

        string? ptxas = FindPtxas();
        if (ptxas is null)
            Assert.Ignore("PTX generated; ptxas not found (set ENGINE_PTXAS or run ../shared/tools/get-ptxas.sh) so it was not validated");
        string file = Path.Combine(Path.GetTempPath(), $"engine-{Environment.ProcessId}-{DisplayName(kernel)}.ptx");
        File.WriteAllText(file, ptx);
        try
        {
            var (exitCode, output) = Run(ptxas!, $"-arch=sm_90 \"{file}\" -o /dev/null");
            Assert.That(exitCode, Is.EqualTo(0), $"ptxas rejected {DisplayName(kernel)}: {output}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void PackedMatVecLoadsSixteenBytesPerLane()
    {
        var kernel = IlgpuBackend.KernelEntryPoints().First(m => m.Name == "MatVecPackedKernel" && m.GetGenericArguments()[2] == typeof(BF16Pack));
        string ptx = ((PTXCompiledKernel)_backend!.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
        Assert.That(ptx, Does.Match(@"ld(\.global)?\.v4\.(u32|b32|f32)"), "the bf16 matrix-vector kernel should use 128-bit weight loads");
    }

    [Test]
    public void RowsMatVecKeepsSixSixteenByteLoadsInFlightPerLane()
    {
        // Per iteration: one 16-byte pack of each of its four rows, and two of x (8 bf16 weights span 8 floats).
        var kernel = IlgpuBackend.KernelEntryPoints().First(m => m.Name == "MatVecRowsKernel" && m.GetGenericArguments()[2] == typeof(BF16Pack));
        string ptx = ((PTXCompiledKernel)_backend!.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
        int wideLoads = System.Text.RegularExpressions.Regex.Matches(ptx, @"ld(\.global)?\.v4\.(u32|b32|f32)").Count;
        Assert.That(wideLoads, Is.GreaterThanOrEqualTo(6), "128-bit loads in the bf16 rows kernel");
    }

    [Test]
    public void TheInt8DecodeKernelsUseDp4a()
    {
        foreach (var kernel in IlgpuBackend.KernelEntryPoints().Where(m => m.Name == "QuantMatVecDp4aKernel"))
        {
            string ptx = ((PTXCompiledKernel)_backend!.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
            Assert.That(ptx, Does.Contain("dp4a.s32.s32"), DisplayName(kernel));
        }
    }

    private static string DisplayName(MethodInfo m) =>
        m.IsGenericMethod ? $"{m.Name}<{string.Join(",", m.GetGenericArguments().Select(t => t.Name))}>" : m.Name;

    private static string? FindPtxas()
    {
        string? configured = Environment.GetEnvironmentVariable("ENGINE_PTXAS");
        if (!string.IsNullOrEmpty(configured)) return File.Exists(configured) ? configured : null;
        string cached = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "engine-ptxas", "usr", "bin", "ptxas");
        return File.Exists(cached) ? cached : null;
    }

    private static (int ExitCode, string Output) Run(string program, string arguments)
    {
        var info = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {program}");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, (stdout + stderr.Result).ReplaceLineEndings(" ").Trim());
    }
}
