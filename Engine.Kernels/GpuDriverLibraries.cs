using System.Reflection;
using System.Runtime.InteropServices;
using ILGPU;

namespace Engine.Kernels;

/// <summary>
/// Finds the GPU driver libraries for ILGPU. ILGPU 1.5.3 imports the CUDA driver as `cuda` (Windows: `nvcuda`)
/// and OpenCL as `OpenCL`, so .NET probes only `libcuda.so` / `libOpenCL.so`: the unversioned names that come
/// with development packages. Many machines have only `libcuda.so.1`, and ILGPU then finds no device and says
/// nothing. A resolver on ILGPU's assembly tries the unversioned name, then the versioned one (or the path in
/// ENGINE_CUDA_DRIVER), and remembers what happened for `engine doctor`.
/// </summary>
public static class GpuDriverLibraries
{
    /// <summary>An explicit path of the CUDA driver library, tried before the standard names.</summary>
    public const string CudaDriverVariable = "ENGINE_CUDA_DRIVER";

    /// <summary>What loading one driver gave: the name that loaded (null: none), every name tried, the last loader error.</summary>
    public sealed record LoadResult(string? Loaded, IReadOnlyList<string> Tried, string? Error, IntPtr Handle)
    {
        public bool Success => Loaded is not null;

        /// <summary>One line for `engine doctor`.</summary>
        public string Describe(string what) => Success
            ? $"{what} driver: {Loaded} loaded"
            : $"{what} driver: not loaded (tried {string.Join(", ", Tried)}{(Error is null ? "" : $": {Error}")})";
    }

    private static readonly Lock Gate = new();
    private static bool _registered;
    private static LoadResult? _cuda, _openCL;

    /// <summary>Installs the resolver on ILGPU's assembly; call before any ILGPU context is created (repeat calls do nothing).</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered) return;
            _registered = true;
            try { NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, Resolve); }
            catch (InvalidOperationException)
            {
                // Someone (a host application) already set one for ILGPU: theirs wins.
            }
        }
    }

    /// <summary>The CUDA driver: loads it on first call (the same handle ILGPU then gets).</summary>
    public static LoadResult Cuda()
    {
        lock (Gate) return _cuda ??= TryLoad(CudaCandidates(Environment.GetEnvironmentVariable(CudaDriverVariable)));
    }

    /// <summary>The OpenCL ICD loader: loads it on first call.</summary>
    public static LoadResult OpenCL()
    {
        lock (Gate) return _openCL ??= TryLoad(OpenCLCandidates());
    }

    /// <summary>Names to try for the CUDA driver, in order: the explicit path if any, then this OS's names.</summary>
    public static IReadOnlyList<string> CudaCandidates(string? explicitPath)
    {
        var names = new List<string>();
        if (!string.IsNullOrWhiteSpace(explicitPath)) names.Add(explicitPath.Trim());
        if (OperatingSystem.IsWindows()) names.Add("nvcuda.dll");
        else names.AddRange(["libcuda.so", "libcuda.so.1"]);
        return names;
    }

    private static IReadOnlyList<string> OpenCLCandidates() =>
        OperatingSystem.IsWindows() ? ["OpenCL.dll"] : ["libOpenCL.so", "libOpenCL.so.1"];

    /// <summary>Tries each candidate in order with the system loader (names or paths).</summary>
    public static LoadResult TryLoad(IReadOnlyList<string> candidates) => TryLoad(candidates, TryLoadLibrary);

    /// <summary>Tries each candidate in order with <paramref name="load"/> (returns a handle, or null and an error).</summary>
    public static LoadResult TryLoad(IReadOnlyList<string> candidates, Func<string, (IntPtr Handle, string? Error)> load)
    {
        string? error = null;
        foreach (string name in candidates)
        {
            var (handle, why) = load(name);
            if (handle != IntPtr.Zero) return new LoadResult(name, candidates, null, handle);
            error = why ?? error;
        }
        return new LoadResult(null, candidates, error, IntPtr.Zero);
    }

    private static (IntPtr, string?) TryLoadLibrary(string name)
    {
        try { return (NativeLibrary.Load(name), null); }
        catch (DllNotFoundException e) { return (IntPtr.Zero, LoaderError(e.Message)); }
        catch (BadImageFormatException e) { return (IntPtr.Zero, LoaderError(e.Message)); }
    }

    /// <summary>The dynamic loader's own words (e.g. "libcuda.so.1: cannot open shared object file: ...") without .NET's advice around them.</summary>
    private static string LoaderError(string message)
    {
        string line = message.ReplaceLineEndings(" ").Trim();
        const string marker = "environment variable:";
        int at = line.LastIndexOf(marker, StringComparison.Ordinal);
        return at >= 0 ? line[(at + marker.Length)..].Trim() : line;
    }

    private static IntPtr Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        // Zero falls back to .NET's own probing (and ILGPU's own "no device" handling).
        if (libraryName.Equals("cuda", StringComparison.OrdinalIgnoreCase) || libraryName.Equals("nvcuda", StringComparison.OrdinalIgnoreCase))
            return Cuda().Handle;
        if (libraryName.Equals("OpenCL", StringComparison.OrdinalIgnoreCase))
            return OpenCL().Handle;
        return IntPtr.Zero;
    }
}
