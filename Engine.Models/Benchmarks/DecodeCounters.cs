using System.Text.Json.Nodes;
using Engine.Kernels;

namespace Engine.Models.Benchmarks;

/// <summary>
/// Device work per decode token, from the backend's counters: kernel launches, host syncs and host-device
/// bytes between the first and the last generated token, divided by the decode steps between them (each
/// step: the forward pass of one token and choosing the next). Only backends that count launches (ILGPU) report.
/// </summary>
public sealed record DecodeCounters(int Steps, double KernelLaunchesPerToken, double HostSyncsPerToken, double HostDeviceBytesPerToken)
{
    /// <summary>The three snake_case fields `bench --json` and `run --json` print.</summary>
    public void AddTo(JsonObject json)
    {
        json["kernel_launches_per_token"] = KernelLaunchesPerToken;
        json["host_syncs_per_token"] = HostSyncsPerToken;
        json["host_device_bytes_per_token"] = HostDeviceBytesPerToken;
    }
}

/// <summary>Snapshots the counters at every generated token; <see cref="Result"/> is the per-token average over the decode steps seen.</summary>
public sealed class DecodeCounterProbe(IBackend backend)
{
    private readonly record struct Snapshot(long Launches, long Syncs, long Bytes);

    private Snapshot _first, _last;
    private int _tokens;

    /// <summary>Call as each token arrives (no device work happens here: three counter reads).</summary>
    public void OnToken()
    {
        _last = Take();
        if (_tokens++ == 0) _first = _last;
    }

    /// <summary>Null when the backend does not count launches or fewer than two tokens arrived.</summary>
    public DecodeCounters? Result
    {
        get
        {
            if (backend.Launches is null || _tokens < 2) return null;
            int steps = _tokens - 1;
            return new DecodeCounters(steps, (double)(_last.Launches - _first.Launches) / steps,
                (double)(_last.Syncs - _first.Syncs) / steps, (double)(_last.Bytes - _first.Bytes) / steps);
        }
    }

    private Snapshot Take()
    {
        var launches = backend.Launches;
        var transfers = backend.Transfers;
        return new Snapshot(launches?.KernelLaunches ?? 0, launches?.HostSyncs ?? 0, transfers.BytesToDevice + transfers.BytesToHost);
    }
}
