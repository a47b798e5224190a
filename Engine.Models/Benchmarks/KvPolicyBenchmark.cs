using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Models.Benchmarks;

/// <summary>Runs <see cref="ModelBenchmark"/> with a KV-cache policy, then (when there is one) without it.</summary>
public static class KvPolicyBenchmark
{
    /// <param name="policy">Null: one full-cache run and no baseline.</param>
    /// <param name="onRepetition">Called after each timed request with the side ("kv policy" or "baseline"), its index and statistics.</param>
    public static KvBenchReport Run(InferenceEngine engine, BenchSettings settings, bool randomWeights, PrefillSchedule prefill,
        IKvCachePolicy? policy, Action<string, int, GenerationStats>? onRepetition = null, CancellationToken cancellation = default)
    {
        var timer = policy is null ? null : new KvCompressionTimer();
        IKvCachePolicy? timed = policy is null ? null : TimedKvPolicy.Attach(policy, timer!);
        try
        {
            var (result, kv) = Side(engine, settings, randomWeights, new BenchWorkload { Prefill = prefill, KvPolicy = timed }, timer,
                policy is null ? "full cache" : "kv policy", onRepetition, cancellation);
            if (policy is null) return new KvBenchReport(result, kv, null, null);
            var (baseline, baselineKv) = Side(engine, settings, randomWeights, new BenchWorkload { Prefill = prefill }, null, "baseline", onRepetition, cancellation);
            return new KvBenchReport(result, kv, baseline, baselineKv);
        }
        finally
        {
            // The caller's policy goes back without the benchmark's timer (and its synchronizations).
            if (policy is ITimedKvPolicy own) own.Timer = null;
        }
    }

    private static (BenchResult, KvRunSummary) Side(InferenceEngine engine, BenchSettings settings, bool randomWeights, BenchWorkload workload,
        KvCompressionTimer? timer, string side, Action<string, int, GenerationStats>? onRepetition, CancellationToken cancellation)
    {
        var recorder = new KvRunSummary.Recorder(timer);
        BenchResult result = ModelBenchmark.Run(engine, settings, randomWeights, measuredBandwidthGbps: null, (r, stats) =>
        {
            recorder.End(stats);
            onRepetition?.Invoke(side, r, stats);
        }, cancellation, workload with { BeforeRepetition = _ => recorder.Begin() });
        KvRunSummary kv = recorder.Summarize();
        // Decode reads only the slots the policy kept: take off those it freed by the end of the request.
        long freedBytes = (kv.LogicalSlots - kv.PhysicalSlots) * result.KvBytesPerToken / engine.Config.NumLayers;
        return (result with { DecodeBytesPerToken = result.DecodeBytesPerToken - freedBytes }, kv);
    }
}
