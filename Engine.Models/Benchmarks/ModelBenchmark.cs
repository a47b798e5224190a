using System.Diagnostics;
using Engine.Core;
using Engine.Core.Sampling;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;
using Engine.Models.Generation;

namespace Engine.Models.Benchmarks;

/// <summary>How a benchmark runs: prompt and generation lengths and how often.</summary>
public sealed record BenchSettings(int PromptTokens = 512, int GenTokens = 128, int Repetitions = 5)
{
    public void Validate()
    {
        if (PromptTokens < 1) throw new EngineException($"--prompt-tokens must be >= 1, got {PromptTokens}");
        if (GenTokens < 2) throw new EngineException($"--gen-tokens must be >= 2 (decode speed needs a step after the first token), got {GenTokens}");
        if (Repetitions < 1) throw new EngineException($"--repetitions must be >= 1, got {Repetitions}");
    }
}

/// <summary>
/// Times whole requests on a loaded engine: a fixed pseudo-random prompt of the requested length, greedy
/// decoding with EOS ignored so every run generates the same number of tokens, a short warm-up first
/// (compilation), then the repetitions whose median, min and max are reported.
/// </summary>
public static class ModelBenchmark
{
    public static BenchResult Run(InferenceEngine engine, BenchSettings settings, bool randomWeights, double? measuredBandwidthGbps,
        Action<int, GenerationStats>? onRepetition = null, CancellationToken cancellation = default, BenchWorkload? workload = null)
    {
        settings.Validate();
        int total = settings.PromptTokens + settings.GenTokens;
        if (total > engine.ContextLimit)
            throw new EngineException($"prompt ({settings.PromptTokens}) plus generated ({settings.GenTokens}) tokens exceed the context of {engine.ContextLimit}");
        var rng = new Random(20251125);
        int[] prompt = Enumerable.Range(0, settings.PromptTokens).Select(_ => rng.Next(engine.Config.VocabSize)).ToArray();
        var options = new GenerationOptions
        {
            MaxTokens = settings.GenTokens,
            IgnoreEos = true,
            Sampling = new SamplingOptions { Temperature = 0 },
            Prefill = workload?.Prefill ?? PrefillSchedule.Default,
            KvPolicy = workload?.KvPolicy,
        };

        // Warm-up: every code path (prefill chunk, decode step) once, outside the timings.
        var progress = workload?.Progress;
        progress?.Invoke("warm-up");
        Drain(engine.Generate(prompt.AsSpan(0, Math.Min(prompt.Length, 8)).ToArray(), options with { MaxTokens = 2 }), cancellation, null, null);

        var prefill = new List<double>();
        var decode = new List<double>();
        var ttft = new List<double>();
        DecodeCounters? counters = null;
        for (int r = 0; r < settings.Repetitions; r++)
        {
            workload?.BeforeRepetition?.Invoke(r);
            var completion = engine.Generate(prompt, options);
            progress?.Invoke($"prefill of {settings.PromptTokens} tokens");
            var probe = new DecodeCounterProbe(engine.Backend);
            Drain(completion, cancellation, probe, progress is null ? null : () => progress(FormattableString.Invariant(
                $"decode of {settings.GenTokens} tokens (prefill took {completion.Stats.PrefillMs / 1000:F1} s)")));
            counters = probe.Result;
            var stats = completion.Stats;
            prefill.Add(stats.PrefillTokensPerSecond);
            decode.Add(stats.DecodeTokensPerSecond);
            ttft.Add(stats.TimeToFirstTokenMs);
            onRepetition?.Invoke(r, stats);
        }

        var config = engine.Config;
        var weights = engine.Weights;
        long kvPerToken = KvPool.BytesPerPageFor(config.NumKvHeads, 1, config.HeadDim, engine.Cache.DType) * config.NumLayers;
        // Decode reads every weight once per token except the embedding table (one row), unless it doubles as the LM head.
        long weightReads = weights.ByteLength - (weights.Tied ? 0 : weights.Embedding.ByteLength);
        double meanContext = settings.PromptTokens + settings.GenTokens / 2.0;
        using var process = Process.GetCurrentProcess();
        process.Refresh();
        return new BenchResult
        {
            Model = engine.Name,
            Device = engine.Backend.Name,
            Threads = engine.Backend is SimdBackend simd ? simd.Threads : 0,
            DType = DTypes.SafetensorsName(weights.Embedding.DType),
            RandomWeights = randomWeights,
            PromptTokens = settings.PromptTokens,
            GenTokens = settings.GenTokens,
            Repetitions = settings.Repetitions,
            PrefillTokensPerSecond = Spread.Of(prefill),
            DecodeTokensPerSecond = Spread.Of(decode),
            TtftMs = Spread.Of(ttft).Median,
            WeightBytes = weights.ByteLength,
            KvBytesPerToken = kvPerToken,
            DecodeBytesPerToken = weightReads + (long)(meanContext * kvPerToken),
            PeakHostBytes = process.PeakWorkingSet64,
            PeakDeviceBytes = engine.Backend.PeakAllocatedBytes,
            MeasuredBandwidthGbps = measuredBandwidthGbps,
            Counters = counters,
            Kernels = engine.Backend is IlgpuBackend ilgpu ? ilgpu.KernelsInUse : null,
        };
    }

    /// <param name="onFirstToken">Called once the prefill is done (at the first token).</param>
    private static void Drain(Completion completion, CancellationToken cancellation, DecodeCounterProbe? probe, Action? onFirstToken)
    {
        foreach (var _ in completion.Run(cancellation))
        {
            probe?.OnToken();
            onFirstToken?.Invoke();
            onFirstToken = null;
        }
        if (completion.FinishReason == FinishReason.Cancelled) throw new OperationCanceledException("benchmark cancelled");
    }
}
