using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Engine.Kernels;
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
    private readonly Dictionary<OptimizationLevel, (Context Context, PTXBackend Backend)> _compilers = [];

    /// <summary>Every kernel at both levels the CUDA backend compiles with (fast kernels: O2; --kernels portable: Release).</summary>
    private static IEnumerable<TestCaseData> Kernels() =>
        from level in new[] { IlgpuBackend.CudaOptimization(KernelSet.Fast), IlgpuBackend.CudaOptimization(KernelSet.Portable) }
        from m in IlgpuBackend.KernelEntryPoints()
        select new TestCaseData(m, level).SetArgDisplayNames(DisplayName(m), level.ToString());

    [OneTimeSetUp]
    public void CreateBackend()
    {
        foreach (var level in new[] { OptimizationLevel.Release, OptimizationLevel.O2 })
        {
            var context = Context.Create(b => b.EnableAlgorithms().Optimize(level));
            _compilers[level] = (context, new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, nvvmAPI: null));
        }
    }

    [OneTimeTearDown]
    public void DisposeBackend()
    {
        foreach (var (context, backend) in _compilers.Values)
        {
            backend.Dispose();
            context.Dispose();
        }
    }

    private string Ptx(MethodInfo kernel, OptimizationLevel level = OptimizationLevel.Release) =>
        ((PTXCompiledKernel)_compilers[level].Backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;

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
    public void CompilesToValidPtx(MethodInfo kernel, OptimizationLevel level)
    {
        string ptx = Ptx(kernel, level);
        Assert.That(ptx, Does.Contain(".entry"), "no kernel entry in the PTX");
        var (exitCode, output) = Ptxas(ptx, $"{DisplayName(kernel)}-{level}", "");
        Assert.That(exitCode, Is.EqualTo(0), $"ptxas rejected {DisplayName(kernel)}: {output}");
    }

    /// <summary>
    /// The CUDA tensor-core GEMM as it is loaded (O2, then <see cref="PtxLocalPromotion"/>): its PTX holds mma.sync,
    /// ldmatrix and the cp.async pipeline; ptxas gives it no stack frame (every inline-PTX operand in registers);
    /// its SASS runs on the tensor cores (HMMA), loads fragments by LDSM and copies by LDGSTS, with no local memory.
    /// </summary>
    [TestCase(typeof(BF16Mma), "HMMA.16816.F32.BF16", ".bf16.bf16")]
    [TestCase(typeof(F16Mma), "HMMA.16816.F32", ".f16.f16")]
    public void TensorCoreGemmRunsOnTensorCoresWithItsOperandsInRegisters(Type format, string hmma, string mmaTypes)
    {
        var kernel = IlgpuBackend.KernelEntryPoints().Single(m => m.Name == "TensorCoreMatMulKernel"
            && m.GetGenericArguments()[0] == format && m.GetGenericArguments()[1] == typeof(PtxMatrixCoreOps));
        var (ptx, promoted) = PtxLocalPromotion.Promote(Ptx(kernel, IlgpuBackend.CudaOptimization(KernelSet.Fast)));
        Assert.That(ptx, Does.Contain($"mma.sync.aligned.m16n8k16.row.col.f32{mmaTypes}.f32"));
        Assert.That(ptx, Does.Contain("ldmatrix.sync.aligned.m8n8.x4.shared.b16"));
        Assert.That(ptx, Does.Contain("cp.async.cg.shared.global").And.Contain("cp.async.commit_group").And.Contain("cp.async.wait_group 2"));
        Assert.That(ptx, Does.Not.Contain(".local"), "every local depot promoted to a register");
        Assert.That(promoted, Is.GreaterThan(100));

        var (exitCode, output) = Ptxas(ptx, DisplayName(kernel), "-v", keepCubin: true);
        Assert.That(exitCode, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"));
        string sass = Sass(DisplayName(kernel));
        Assert.That(Count(sass, $@"\b{Regex.Escape(hmma)}\b"), Is.GreaterThanOrEqualTo(16), "one HMMA per m16n8k16 tile and k16 step");
        Assert.That(Count(sass, @"\bLDSM\.16\.M88\.4\b"), Is.GreaterThanOrEqualTo(6));
        Assert.That(Count(sass, @"\bLDGSTS\.E\.BYPASS\.128\b"), Is.GreaterThanOrEqualTo(4));
        Assert.That(Count(sass, @"\b(LDL|STL)\b"), Is.EqualTo(0), "no local memory");
    }

    /// <summary>The rows matrix-vector kernel as the fast set compiles it: its SASS reads weights and x by 128-bit global loads.</summary>
    [Test]
    public void RowsMatVecSassUsesSixteenByteGlobalLoads()
    {
        var kernel = IlgpuBackend.KernelEntryPoints().First(m => m.Name == "MatVecRowsKernel" && m.GetGenericArguments()[2] == typeof(BF16Pack));
        var (exitCode, output) = Ptxas(Ptx(kernel, IlgpuBackend.CudaOptimization(KernelSet.Fast)), DisplayName(kernel), "", keepCubin: true);
        Assert.That(exitCode, Is.EqualTo(0), output);
        Assert.That(Count(Sass(DisplayName(kernel)), @"\bLDG\.E\.128\b"), Is.GreaterThanOrEqualTo(6), "four weight packs and two x packs per iteration");
    }

    /// <summary>Attention stages K and V rows by 128-bit global loads (decode and prefill share the staging).</summary>
    [Test]
    public void DecodeAttentionSassLoadsKvBySixteenBytes()
    {
        var kernel = IlgpuBackend.KernelEntryPoints().First(m => m.Name == "DecodeAttentionKernel" && m.GetGenericArguments()[2] == typeof(BF16KvPack));
        var (exitCode, output) = Ptxas(Ptx(kernel, IlgpuBackend.CudaOptimization(KernelSet.Fast)), DisplayName(kernel), "", keepCubin: true);
        Assert.That(exitCode, Is.EqualTo(0), output);
        Assert.That(Count(Sass(DisplayName(kernel)), @"\bLDG\.E\.128\b"), Is.GreaterThanOrEqualTo(2), "one for K rows, one for V rows");
    }

    private static int Count(string text, string pattern) => Regex.Matches(text, pattern).Count;

    private static string CubinPath(string name) => Path.Combine(Path.GetTempPath(), $"engine-{Environment.ProcessId}-{name}.cubin");

    /// <summary>Runs ptxas -arch=sm_90 on the PTX (ignores the test when ptxas is absent); keeps the cubin for <see cref="Sass"/> if asked.</summary>
    private static (int ExitCode, string Output) Ptxas(string ptx, string name, string options, bool keepCubin = false)
    {
        string? ptxas = FindPtxas();
        if (ptxas is null)
            Assert.Ignore("PTX generated; ptxas not found (set ENGINE_PTXAS or run ../shared/tools/get-ptxas.sh) so it was not validated");
        string file = Path.Combine(Path.GetTempPath(), $"engine-{Environment.ProcessId}-{name}.ptx");
        File.WriteAllText(file, ptx);
        try
        {
            return Run(ptxas!, $"-arch=sm_90 {options} \"{file}\" -o {(keepCubin ? $"\"{CubinPath(name)}\"" : "/dev/null")}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The SASS of a cubin <see cref="Ptxas"/> kept, by cuobjdump from the same toolkit (ignores the test when absent).</summary>
    private static string Sass(string name)
    {
        string cubin = CubinPath(name);
        string cuobjdump = Path.Combine(Path.GetDirectoryName(FindPtxas()!)!, "cuobjdump");
        try
        {
            if (!File.Exists(cuobjdump))
                Assert.Ignore($"ptxas passed; cuobjdump not found beside it ({cuobjdump}) so the SASS was not inspected");
            var (exitCode, output) = Run(cuobjdump, $"-sass \"{cubin}\"");
            Assert.That(exitCode, Is.EqualTo(0), output);
            return output;
        }
        finally
        {
            File.Delete(cubin);
        }
    }

    [Test]
    public void PackedMatVecLoadsSixteenBytesPerLane()
    {
        var kernel = IlgpuBackend.KernelEntryPoints().First(m => m.Name == "MatVecPackedKernel" && m.GetGenericArguments()[2] == typeof(BF16Pack));
        string ptx = Ptx(kernel);
        Assert.That(ptx, Does.Match(@"ld(\.global)?\.v4\.(u32|b32|f32)"), "the bf16 matrix-vector kernel should use 128-bit weight loads");
    }

    [Test]
    public void RowsMatVecKeepsSixSixteenByteLoadsInFlightPerLane()
    {
        // Per iteration: one 16-byte pack of each of its four rows, and two of x (8 bf16 weights span 8 floats).
        var kernel = IlgpuBackend.KernelEntryPoints().First(m => m.Name == "MatVecRowsKernel" && m.GetGenericArguments()[2] == typeof(BF16Pack));
        string ptx = Ptx(kernel);
        int wideLoads = System.Text.RegularExpressions.Regex.Matches(ptx, @"ld(\.global)?\.v4\.(u32|b32|f32)").Count;
        Assert.That(wideLoads, Is.GreaterThanOrEqualTo(6), "128-bit loads in the bf16 rows kernel");
    }

    [Test]
    public void TheInt8DecodeKernelsUseDp4a()
    {
        foreach (var kernel in IlgpuBackend.KernelEntryPoints().Where(m => m.Name == "QuantMatVecDp4aKernel"))
        {
            Assert.That(Ptx(kernel), Does.Contain("dp4a.s32.s32"), DisplayName(kernel));
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
