using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Models.Benchmarks;

/// <summary>
/// Runs <see cref="ModelBenchmark"/> with a KV-cache policy and, when there is one, without it. The two
/// sides alternate request by request, so a machine whose load drifts during the run slows both alike.
/// </summary>
public static class KvPolicyBenchmark
{
    /// <param name="policy">Null: one full-cache run and no baseline.</param>
    /// <param name="onRepetition">Called after each timed request with the side ("kv policy", "baseline" or "full cache"), its index and statistics.</param>
    /// <param name="progress">Told each phase as it starts (e.g. "kv policy request 2/5: prefill of 4096 tokens").</param>
    public static KvBenchReport Run(InferenceEngine engine, BenchSettings settings, bool randomWeights, PrefillSchedule prefill,
        IKvCachePolicy? policy, Action<string, int, GenerationStats>? onRepetition = null, CancellationToken cancellation = default,
        Action<string>? progress = null)
    {
        settings.Validate();
        var timer = policy is null ? null : new KvCompressionTimer();
        IKvCachePolicy? timed = policy is null ? null : TimedKvPolicy.Attach(policy, timer!);
        try
        {
            var withPolicy = new Side(policy is null ? "full cache" : "kv policy", new BenchWorkload { Prefill = prefill, KvPolicy = timed }, timer);
            Side? baseline = policy is null ? null : new Side("baseline", new BenchWorkload { Prefill = prefill }, null);
            for (int r = 0; r < settings.Repetitions; r++)
            {
                withPolicy.Request(engine, settings, randomWeights, r, onRepetition, cancellation, progress);
                baseline?.Request(engine, settings, randomWeights, r, onRepetition, cancellation, progress);
            }
            var (result, kv) = withPolicy.Summarize(engine);
            if (baseline is null) return new KvBenchReport(result, kv, null, null);
            var (full, fullKv) = baseline.Summarize(engine);
            return new KvBenchReport(result, kv, full, fullKv);
        }
        finally
        {
            // The caller's policy goes back without the benchmark's timer (and its synchronizations).
            if (policy is ITimedKvPolicy own) own.Timer = null;
        }
    }

    /// <summary>One side's requests, each a one-repetition <see cref="ModelBenchmark"/> (its short warm-up included).</summary>
    private sealed class Side(string name, BenchWorkload workload, KvCompressionTimer? timer)
    {
        private readonly KvRunSummary.Recorder _recorder = new(timer);
        private readonly List<BenchResult> _results = [];

        public void Request(InferenceEngine engine, BenchSettings settings, bool randomWeights, int index,
            Action<string, int, GenerationStats>? onRepetition, CancellationToken cancellation, Action<string>? progress)
        {
            Action<string>? phase = progress is null ? null : what => progress($"{name} request {index + 1}/{settings.Repetitions}: {what}");
            _results.Add(ModelBenchmark.Run(engine, settings with { Repetitions = 1 }, randomWeights, measuredBandwidthGbps: null, (_, stats) =>
            {
                _recorder.End(stats);
                onRepetition?.Invoke(name, index, stats);
            }, cancellation, workload with { BeforeRepetition = _ => _recorder.Begin(), Progress = phase }));
        }

        public (BenchResult, KvRunSummary) Summarize(InferenceEngine engine)
        {
            KvRunSummary kv = _recorder.Summarize();
            BenchResult last = _results[^1];
            // Decode reads only the slots the policy kept: take off those it freed by the end of the request.
            long freedBytes = (kv.LogicalSlots - kv.PhysicalSlots) * last.KvBytesPerToken / engine.Config.NumLayers;
            var result = last with
            {
                Repetitions = _results.Count,
                PrefillTokensPerSecond = Spread.Of(_results.Select(x => x.PrefillTokensPerSecond.Median).ToArray()),
                DecodeTokensPerSecond = Spread.Of(_results.Select(x => x.DecodeTokensPerSecond.Median).ToArray()),
                TtftMs = Spread.Of(_results.Select(x => x.TtftMs).ToArray()).Median,
                PeakHostBytes = _results.Max(x => x.PeakHostBytes),
                PeakDeviceBytes = _results.Max(x => x.PeakDeviceBytes),
                DecodeBytesPerToken = last.DecodeBytesPerToken - freedBytes,
            };
            return (result, kv);
        }
    }
}
