using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Core.Sampling;
using Engine.Kernels.Cpu;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Tests.Models;
using NUnit.Framework;

namespace Engine.Tests.Scheduling;

/// <summary>Many requests through a small pool: waiting, cancellation, no leaks, no output disturbed by its neighbours.</summary>
public class ManyRequestsTests
{
    private sealed record Spec(int[] Prompt, int MaxTokens, string Policy, int? Seed);

    private static readonly LagKvOptions Lag = new() { SinkSize = 4, LagSize = 8, Retention = 0.25 };

    private static GenerationOptions Options(Spec spec) => new()
    {
        MaxTokens = spec.MaxTokens,
        IgnoreEos = true,
        Sampling = spec.Seed is int seed ? new SamplingOptions { Temperature = 0.8, TopK = 10, Seed = seed } : SamplingOptions.Greedy,
        Prefill = spec.Policy == "lagkv" ? LagKvPrefill.Auto(Lag) : PrefillSchedule.Fixed(16),
        KvPolicy = spec.Policy switch { "lagkv" => new LagKvPolicy(Lag), "streaming" => new StreamingLlmPolicy(new KvBudget(Lag)), _ => null },
    };

    [Test]
    public async Task AThousandRandomRequestsAllEndAndEveryPageComesBack()
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32), seed: 12);
        // 96 pages of 8 slots, 2 layers: room for a few requests at a time, so most of them wait for pages.
        long pageBytes = Engine.Kernels.KvPool.BytesPerPageFor(tiny.Config.NumKvHeads, 8, tiny.Config.HeadDim, DType.F32);
        using var engine = InferenceEngine.Create("tiny", new SimdBackend(2), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { PageSize = 8, KvMemoryBytes = pageBytes * 96 }, ownsBackend: true);
        int initialFree = engine.Cache.FreePages;
        var random = new Random(99);
        string[] policies = ["full", "lagkv", "streaming"];
        var specs = Enumerable.Range(0, 40).Select(i => new Spec(
            Enumerable.Range(0, random.Next(1, 120)).Select(_ => random.Next(3, tiny.Config.VocabSize)).ToArray(),
            random.Next(1, 40), policies[i % 3], i % 4 == 0 ? i : null)).ToArray();

        // Each distinct request alone, once.
        var solo = new List<int>[specs.Length];
        for (int i = 0; i < specs.Length; i++)
        {
            var c = engine.Generate(specs[i].Prompt, Options(specs[i]));
            await c.RunToEndAsync();
            solo[i] = [.. c.TokenIds];
        }

        // A thousand of them, 32 clients at a time, a fifth cancelled at random points.
        using var clients = new SemaphoreSlim(32);
        int cancelled = 0, completed = 0;
        var mismatches = new List<string>();
        var tasks = Enumerable.Range(0, 1000).Select(async n =>
        {
            int which, cancelAfter;
            lock (random) { which = random.Next(specs.Length); cancelAfter = random.Next(5) == 0 ? random.Next(0, 10) : -1; }
            await clients.WaitAsync();
            try
            {
                using var cancellation = new CancellationTokenSource();
                var c = engine.Generate(specs[which].Prompt, Options(specs[which]));
                int received = 0;
                if (cancelAfter == 0) cancellation.Cancel();
                await foreach (var _ in c.StreamAsync(cancellation.Token))
                    if (++received == cancelAfter) cancellation.Cancel();
                if (c.FinishReason == FinishReason.Cancelled) Interlocked.Increment(ref cancelled);
                else Interlocked.Increment(ref completed);
                // Whatever was delivered is a prefix of the request's solo output, and a finished one is all of it.
                bool same = c.FinishReason == FinishReason.Cancelled
                    ? solo[which].Take(c.TokenIds.Count).SequenceEqual(c.TokenIds)
                    : solo[which].SequenceEqual(c.TokenIds);
                if (!same) lock (mismatches) mismatches.Add($"request {n} (spec {which}, {c.FinishReason})");
            }
            finally { clients.Release(); }
        }).ToArray();
        var all = Task.WhenAll(tasks);
        Assert.That(await Task.WhenAny(all, Task.Delay(TimeSpan.FromMinutes(8))), Is.SameAs(all), "every request ended");

        Assert.That(mismatches, Is.Empty);
        Assert.That(cancelled + completed, Is.EqualTo(1000));
        Assert.That(cancelled, Is.GreaterThan(50));
        Assert.That(engine.Steps.PeakSequencesPerStep, Is.GreaterThan(1));
        Assert.That(engine.Requests, Is.EqualTo((0, 0)));
        Assert.That(engine.Cache.FreePages, Is.EqualTo(initialFree), "every page came back");
        Assert.That(engine.Cache.UnreservedFreePages, Is.EqualTo(initialFree), "every reservation came back");
    }

    [Test]
    public async Task CancellingOneRequestFreesItsPagesAtOnceAndLeavesTheOtherAlone()
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32), seed: 12);
        using var engine = InferenceEngine.Create("tiny", new SimdBackend(2), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { PageSize = 8, KvMemoryBytes = 8L << 20 }, ownsBackend: true);
        var greedy = new GenerationOptions { MaxTokens = 60, IgnoreEos = true, Sampling = SamplingOptions.Greedy };
        int[] prompt = Enumerable.Range(3, 50).ToArray();
        var alone = engine.Generate(prompt, greedy);
        await alone.RunToEndAsync();

        var survivor = engine.Generate(prompt, greedy);
        var survivorRun = Task.Run(() => survivor.RunToEndAsync());
        var victim = engine.Generate(Enumerable.Range(4, 70).ToArray(), greedy);
        using var cancellation = new CancellationTokenSource();
        int received = 0;
        await foreach (var _ in victim.StreamAsync(cancellation.Token))
            if (++received == 3) cancellation.Cancel();
        Assert.That(victim.FinishReason, Is.EqualTo(FinishReason.Cancelled));
        Assert.That(victim.TokenIds, Has.Count.EqualTo(3));
        // The stream ends only once the engine let go of the sequence.
        Assert.That(engine.Cache.SequenceCount, Is.LessThanOrEqualTo(1));
        await survivorRun;
        Assert.That(survivor.TokenIds, Is.EqualTo(alone.TokenIds));
        Assert.That(engine.Cache.UsedPages, Is.Zero);
    }

    [Test]
    public void ARequestLongerThanTheContextIsRefusedBeforeAnyWork()
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32), seed: 12);
        using var engine = InferenceEngine.Create("tiny", new SimdBackend(2), tiny.Checkpoint, tiny.Config, ownsBackend: true);
        var e = Assert.Throws<EngineException>(() => engine.Generate(new int[tiny.Config.MaxPositionEmbeddings + 1]));
        Assert.That(e!.Message, Does.Contain("more than the model's context"));
    }
}
