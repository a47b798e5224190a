using System.Diagnostics;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// Wall time a KV-cache policy spent compressing, split into prefill and decode. The backend is
/// synchronized at both ends of a measurement so device work queued before (attention) is not billed
/// to compression and the compression's own queued kernels are. Attach one only when the time is
/// wanted (benchmarks): the synchronizations stall a GPU pipeline.
/// </summary>
public sealed class KvCompressionTimer
{
    public double PrefillMs { get; private set; }
    public double DecodeMs { get; private set; }
    /// <summary>Measured compressions (one per layer that compressed in a step).</summary>
    public int Compressions { get; private set; }

    /// <summary>Waits for queued work and returns the start timestamp to pass to <see cref="Stop"/>.</summary>
    public long Start(IBackend backend)
    {
        backend.Synchronize();
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Waits for the compression's work and adds the time since <paramref name="start"/>.</summary>
    public void Stop(IBackend backend, bool prefill, long start)
    {
        backend.Synchronize();
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        if (prefill) PrefillMs += ms;
        else DecodeMs += ms;
        Compressions++;
    }

    public void Reset()
    {
        PrefillMs = 0;
        DecodeMs = 0;
        Compressions = 0;
    }
}
