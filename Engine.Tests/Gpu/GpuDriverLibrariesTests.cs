using System.Runtime.InteropServices;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>The CUDA driver lookup (libcuda.so, then libcuda.so.1), tested with fake loaders and a fake library folder.</summary>
public sealed class GpuDriverLibrariesTests
{
    [Test]
    public void TriesTheUnversionedNameThenTheVersionedOne()
    {
        var tried = new List<string>();
        var result = GpuDriverLibraries.TryLoad(["libcuda.so", "libcuda.so.1"], name =>
        {
            tried.Add(name);
            return name == "libcuda.so.1" ? (new IntPtr(42), null) : (IntPtr.Zero, $"{name}: cannot open shared object file");
        });
        Assert.That(tried, Is.EqualTo(new[] { "libcuda.so", "libcuda.so.1" }));
        Assert.That(result.Success, Is.True);
        Assert.That(result.Loaded, Is.EqualTo("libcuda.so.1"));
        Assert.That(result.Handle, Is.EqualTo(new IntPtr(42)));
        Assert.That(result.Describe("CUDA"), Is.EqualTo("CUDA driver: libcuda.so.1 loaded"));
    }

    [Test]
    public void StopsAtTheFirstThatLoads()
    {
        var tried = new List<string>();
        var result = GpuDriverLibraries.TryLoad(["libcuda.so", "libcuda.so.1"], name => { tried.Add(name); return (new IntPtr(7), null); });
        Assert.That(result.Loaded, Is.EqualTo("libcuda.so"));
        Assert.That(tried, Is.EqualTo(new[] { "libcuda.so" }));
    }

    [Test]
    public void NeitherLoadingGivesOneClearLine()
    {
        var result = GpuDriverLibraries.TryLoad(["libcuda.so", "libcuda.so.1"], name => (IntPtr.Zero, $"{name}: cannot open shared object file"));
        Assert.That(result.Success, Is.False);
        Assert.That(result.Handle, Is.EqualTo(IntPtr.Zero));
        string line = result.Describe("CUDA");
        Assert.That(line, Does.StartWith("CUDA driver: not loaded (tried libcuda.so, libcuda.so.1: libcuda.so.1: cannot open"));
        Assert.That(line, Does.Not.Contain("\n"));
    }

    [Test]
    public void ExplicitPathComesFirst()
    {
        var names = GpuDriverLibraries.CudaCandidates("/opt/driver/libcuda.so.535");
        Assert.That(names[0], Is.EqualTo("/opt/driver/libcuda.so.535"));
        if (OperatingSystem.IsLinux())
        {
            Assert.That(names.Skip(1), Is.EqualTo(new[] { "libcuda.so", "libcuda.so.1" }));
            Assert.That(GpuDriverLibraries.CudaCandidates(null), Is.EqualTo(new[] { "libcuda.so", "libcuda.so.1" }));
        }
    }

    [Test]
    public void FindsTheVersionedFileInAFolderWithoutTheUnversionedOne()
    {
        // A stand-in shared library (any real one loads with dlopen) named like the driver, in a folder of its own.
        string? standIn = new[] { "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib64/libz.so.1", "/usr/lib/aarch64-linux-gnu/libz.so.1" }
            .FirstOrDefault(File.Exists);
        if (!OperatingSystem.IsLinux() || standIn is null) Assert.Ignore("needs Linux with libz.so.1 as a stand-in library");
        string folder = Directory.CreateTempSubdirectory("fake-driver").FullName;
        try
        {
            File.Copy(standIn!, Path.Combine(folder, "libcuda.so.1"));
            var result = GpuDriverLibraries.TryLoad([Path.Combine(folder, "libcuda.so"), Path.Combine(folder, "libcuda.so.1")]);
            Assert.That(result.Loaded, Is.EqualTo(Path.Combine(folder, "libcuda.so.1")));
            Assert.That(result.Handle, Is.Not.EqualTo(IntPtr.Zero));
            NativeLibrary.Free(result.Handle);
        }
        finally { Directory.Delete(folder, true); }
    }

    [Test]
    public void CreatingABackendRegistersTheResolverOnIlgpu()
    {
        using (IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)) { }
        // A second resolver for the same assembly is refused: ours is in place before any context exists.
        Assert.Throws<InvalidOperationException>(() =>
            NativeLibrary.SetDllImportResolver(typeof(ILGPU.Context).Assembly, (_, _, _) => IntPtr.Zero));
    }

    [Test]
    public void DoctorSaysWhichCudaDriverLoaded()
    {
        var stdout = new StringWriter();
        int exit = Engine.Cli.CliApp.Run(["doctor"], stdout, new StringWriter());
        Assert.That(exit, Is.EqualTo(0));
        var expected = GpuDriverLibraries.Cuda();
        Assert.That(stdout.ToString(), Does.Contain(expected.Describe("CUDA")));
        Assert.That(stdout.ToString(), Does.Match(expected.Success ? "CUDA driver: .* loaded" : "CUDA driver: not loaded \\(tried .*libcuda.so, libcuda.so.1"));
    }
}
