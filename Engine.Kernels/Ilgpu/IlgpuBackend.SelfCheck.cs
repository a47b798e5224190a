using System.Collections.Concurrent;
using System.Globalization;
using Engine.Core;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The runtime self-check: the first time a fast kernel is wanted on this device it runs against its portable
/// twin on a small random case (<see cref="FastKernel"/>); on a mismatch or a launch failure one warning goes to
/// <see cref="Warn"/> and the portable twin runs from then on. A user's first run is never wrong because a
/// kernel was written without a GPU at hand.
/// </summary>
public sealed partial class IlgpuBackend
{
    private readonly ConcurrentDictionary<FastKernel, KernelCheck> _checks = new();
    private readonly Lock _checkGate = new();

    /// <summary>The kernel set asked for (--kernels).</summary>
    public KernelSet RequestedKernels { get; private init; } = KernelSet.Fast;

    /// <summary>Where the one warning per failed self-check goes (default: standard error).</summary>
    public Action<string> Warn { get; set; } = message => Console.Error.WriteLine(message);

    /// <summary>The self-checks run so far on this device, in no particular order.</summary>
    public IReadOnlyList<KernelCheck> KernelChecks => _checks.Values.ToArray();

    /// <summary>"portable" when forced or when any fast kernel fell back, else "fast".</summary>
    public string KernelsInUse => RequestedKernels == KernelSet.Portable || _checks.Values.Any(c => !c.Passed) ? "portable" : "fast";

    /// <summary>Runs the self-check of every registered fast kernel now (`engine doctor`); with --kernels portable, none.</summary>
    public IReadOnlyList<KernelCheck> CheckAllFastKernels()
    {
        foreach (var kernel in FastKernel.All) UseFast(kernel);
        return FastKernel.All.Select(k => _checks.TryGetValue(k, out var c) ? c : null).OfType<KernelCheck>().ToArray();
    }

    /// <summary>Whether to run <paramref name="kernel"/> rather than its portable twin (self-checking it on first use).</summary>
    internal bool UseFast(FastKernel kernel)
    {
        if (RequestedKernels == KernelSet.Portable) return false;
        if (_checks.TryGetValue(kernel, out var known)) return known.Passed;
        lock (_checkGate)
        {
            if (_checks.TryGetValue(kernel, out known)) return known.Passed;
            long launches = Launches.KernelLaunches, syncs = Launches.HostSyncs;
            long toDevice = Transfers.BytesToDevice, toHost = Transfers.BytesToHost;
            var check = RunSelfCheck(kernel);
            // The check's launches and copies are the backend's own business, not the caller's per-token counts.
            Launches.Restore(launches, syncs);
            Transfers.Restore(toDevice, toHost);
            _checks[kernel] = check;
            if (!check.Passed) Warn($"warning: {Name}: fast kernel {kernel.Name} failed its self-check ({check.Detail}); using the portable {kernel.PortableTwin}");
            return check.Passed;
        }
    }

    private KernelCheck RunSelfCheck(FastKernel kernel)
    {
        try
        {
            double error = kernel.Compare(this, new Random(20261207));
            bool passed = error <= kernel.Tolerance; // NaN fails
            string detail = string.Create(CultureInfo.InvariantCulture, $"largest relative difference {error:G3}, tolerance {kernel.Tolerance:G3}");
            return new KernelCheck(kernel.Name, kernel.PortableTwin, passed, detail);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A kernel that fails to compile or launch on this device is a failed check, not a crash.
            try { Accelerator.Synchronize(); } catch (Exception) { /* the device reports the same failure again */ }
            return new KernelCheck(kernel.Name, kernel.PortableTwin, false, $"launch failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ").Trim()}");
        }
    }

    /// <summary>
    /// For self-checks: runs <paramref name="fast"/> and <paramref name="portable"/> into two fresh F32 outputs of
    /// <paramref name="length"/> elements and returns max |fast - portable| / (1 + max |portable|).
    /// </summary>
    internal double CompareOutputs(long length, Action<DeviceArray> fast, Action<DeviceArray> portable)
    {
        using var a = Allocate(DType.F32, length);
        using var b = Allocate(DType.F32, length);
        fast(a);
        portable(b);
        var fastValues = new float[length];
        var portableValues = new float[length];
        Download<float>(a, fastValues);
        Download<float>(b, portableValues);
        return BackendConformance.RelativeDifference(fastValues, portableValues);
    }

    /// <summary>For self-checks: a device array of random values in [-1, 1) in the given dtype.</summary>
    internal DeviceArray RandomArray(DType dtype, int length, Random random)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        var array = Allocate(dtype, length);
        switch (dtype)
        {
            case DType.F32: Upload<float>(array, values); break;
            case DType.F16: Upload<ushort>(array, values.Select(v => BitConverter.HalfToUInt16Bits((Half)v)).ToArray()); break;
            case DType.BF16: Upload<ushort>(array, values.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray()); break;
            default: Upload<int>(array, values.Select(v => (int)(v * 1000)).ToArray()); break;
        }
        return array;
    }
}
