using System.Runtime.InteropServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Transparent huge pages for large host arrays (Linux). Decode streams every weight once per token; with
/// 4 KiB pages that is a TLB miss every 4 KiB, and the hardware prefetchers stop at each page boundary.
/// Where the kernel's THP mode is "madvise" (the common default) an array must ask for them.
/// </summary>
internal static unsafe partial class HugePages
{
    public const nuint Size = 2u << 20;
    private const int MadvHugepage = 14;

    /// <summary>Only arrays of several huge pages are worth the rounding.</summary>
    public static bool Worthwhile(nuint bytes) => OperatingSystem.IsLinux() && bytes >= 4 * Size;

    public static nuint RoundUp(nuint bytes) => (bytes + Size - 1) & ~(Size - 1);

    /// <summary>Asks for huge pages before the memory is first touched; a refusal only costs speed.</summary>
    public static void Advise(void* start, nuint bytes)
    {
        try { _ = madvise(start, bytes, MadvHugepage); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int madvise(void* addr, nuint length, int advice);
}
