using System.Diagnostics;
using System.Text.Json.Nodes;
using Engine.Core;
using Engine.Core.Sampling;
using Engine.Models.Generation;

namespace Engine.Models.Benchmarks;

/// <summary>What one concurrency level measured.</summary>
/// <param name="AggregateDecodeTokensPerSecond">Tokens all sequences received per second while every one of them was decoding (from the last first token to the first last token; <see cref="SteadyDecodeRate"/>); over the whole decode span when that window is empty.</param>
/// <param name="PerSequenceDecodeTokensPerSecond">The median sequence's own decode speed (tokens after its first over its decode time).</param>
/// <param name="PrefillTokensPerSecond">All prompt tokens over the time until the last sequence had its first token.</param>
/// <param name="TtftMs">Time to first token per sequence (from submission, queueing included).</param>
/// <param name="InterTokenMs">Gaps between consecutive tokens of a sequence as its consumer received them.</param>
/// <param name="PeakKvPages">Most KV pages in use at once (all layers), of <paramref name="KvPageCount"/>.</param>
/// <param name="OutputTokensPerSecond">End to end: every generated token over the level's wall time (prefill included), as a server load test counts.</param>
/// <param name="CpuSeconds">CPU time the process used during the level (all threads, user and system).</param>
public sealed record ConcurrencyLevelResult(int Concurrency, double AggregateDecodeTokensPerSecond, double PerSequenceDecodeTokensPerSecond,
    double PrefillTokensPerSecond, Percentiles TtftMs, Percentiles InterTokenMs, int PeakKvPages, int KvPageCount, double WallSeconds,
    double OutputTokensPerSecond, double CpuSeconds)
{
    public JsonObject ToJson() => new()
    {
        ["concurrency"] = Concurrency,
        ["aggregate_decode_tokens_per_s"] = AggregateDecodeTokensPerSecond,
        ["per_sequence_decode_tokens_per_s"] = PerSequenceDecodeTokensPerSecond,
        ["prefill_tokens_per_s"] = PrefillTokensPerSecond,
        ["ttft_ms"] = TtftMs.ToJson(),
        ["inter_token_ms"] = InterTokenMs.ToJson(),
        ["kv_pages_used"] = PeakKvPages,
        ["kv_pages_total"] = KvPageCount,
        ["wall_s"] = WallSeconds,
        ["output_tokens_per_s"] = OutputTokensPerSecond,
        ["cpu_s"] = CpuSeconds,
    };
}

/// <summary>
/// Throughput and latency under load: for each concurrency level N, N requests (different pseudo-random
/// prompts of the same length, greedy, EOS ignored) submitted at once and run by the engine's scheduler
/// to the end, after one short warm-up request. The engine's KV pool must hold the largest level
/// (else sequences wait for admission and the level measures less concurrency than it names).
/// </summary>
public static class ConcurrencyBenchmark
{
    public static IReadOnlyList<ConcurrencyLevelResult> Run(InferenceEngine engine, BenchSettings settings, IReadOnlyList<int> levels,
        BenchWorkload? workload = null, Action<ConcurrencyLevelResult>? onLevel = null, CancellationToken cancellation = default)
    {
        settings.Validate();
        if (levels.Count == 0 || levels.Any(n => n < 1)) throw new EngineException("--concurrency needs levels >= 1, e.g. 1,4,8,16");
        if (settings.PromptTokens + settings.GenTokens > engine.ContextLimit)
            throw new EngineException($"prompt ({settings.PromptTokens}) plus generated ({settings.GenTokens}) tokens exceed the context of {engine.ContextLimit}");
        var options = new GenerationOptions
        {
            MaxTokens = settings.GenTokens, IgnoreEos = true, Sampling = SamplingOptions.Greedy,
            Prefill = workload?.Prefill ?? PrefillSchedule.Default, KvPolicy = workload?.KvPolicy,
        };
        var rng = new Random(20251207);
        int[][] prompts = Enumerable.Range(0, levels.Max())
            .Select(_ => Enumerable.Range(0, settings.PromptTokens).Select(_ => rng.Next(engine.Config.VocabSize)).ToArray()).ToArray();

        Drain(engine.Generate(prompts[0].Take(8).ToArray(), options with { MaxTokens = 2 }), cancellation);
        var results = new List<ConcurrencyLevelResult>();
        foreach (int level in levels)
        {
            var result = RunLevel(engine, prompts.Take(level).ToArray(), options, cancellation);
            onLevel?.Invoke(result);
            results.Add(result);
        }
        return results;
    }

    private static ConcurrencyLevelResult RunLevel(InferenceEngine engine, int[][] prompts, GenerationOptions options, CancellationToken cancellation)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        engine.Cache.ResetPeakUsedPages();
        var completions = prompts.Select(p => engine.Generate(p, options)).ToArray();
        var arrivals = completions.Select(_ => new List<double>()).ToArray();
        Task.WhenAll(completions.Select((c, i) => Task.Run(async () =>
        {
            await foreach (var _ in c.StreamAsync(cancellation).ConfigureAwait(false))
                arrivals[i].Add(clock.Elapsed.TotalSeconds);
            if (c.FinishReason == FinishReason.Cancelled) throw new OperationCanceledException("benchmark cancelled");
            if (c.FinishReason is not FinishReason.Length)
                throw new EngineException($"a benchmark request ended with {c.FinishReason?.Name()}: {c.FinishMessage ?? "(no message)"}");
        }))).GetAwaiter().GetResult();
        double wall = clock.Elapsed.TotalSeconds;

        double lastFirst = arrivals.Max(a => a[0]);
        double aggregate = SteadyDecodeRate.Of(arrivals, prompts.Length);
        var gaps = arrivals.SelectMany(a => a.Zip(a.Skip(1), (x, y) => (y - x) * 1000)).ToArray();
        return new ConcurrencyLevelResult(
            prompts.Length,
            aggregate,
            Percentiles.Of(completions.Select(c => c.Stats.DecodeTokensPerSecond).ToArray()).P50,
            prompts.Sum(p => p.Length) / Math.Max(1e-9, lastFirst),
            Percentiles.Of(completions.Select(c => c.Stats.TimeToFirstTokenMs).ToArray()),
            Percentiles.Of(gaps),
            engine.Cache.PeakUsedPages,
            engine.Cache.PageCount,
            wall,
            arrivals.Sum(a => a.Count) / Math.Max(1e-9, wall),
            (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
    }

    private static void Drain(Completion completion, CancellationToken cancellation)
    {
        foreach (var _ in completion.Run(cancellation)) { }
        if (completion.FinishReason == FinishReason.Cancelled) throw new OperationCanceledException("benchmark cancelled");
    }
}
