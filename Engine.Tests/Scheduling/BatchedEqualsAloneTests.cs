using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Tests.Models;
using NUnit.Framework;

namespace Engine.Tests.Scheduling;

/// <summary>
/// The test of batching: requests of different lengths, policies and prefill schedules run
/// concurrently give, each, exactly what they give alone (tokens equal, f32 logprobs within 1e-4).
/// </summary>
public class BatchedEqualsAloneTests
{
    /// <summary>One request of the mix: its prompt length, KV policy, prefill schedule and sampling.</summary>
    public sealed record Spec(int PromptLength, string Policy, string Prefill, SamplingOptions Sampling);

    private static readonly LagKvOptions Lag2x = new() { SinkSize = 4, LagSize = 16, Retention = 0.5 };
    private static readonly LagKvOptions Lag8x = new() { SinkSize = 4, LagSize = 16, Retention = 0.125 };
    private static readonly LagKvOptions Press4x = new() { SinkSize = 4, LagSize = 16, Retention = 0.25, Mode = LagKvMode.Press };

    private static IKvCachePolicy? Policy(string name) => name switch
    {
        "full" => null,
        "lagkv-2x" => new LagKvPolicy(Lag2x),
        "lagkv-8x" => new LagKvPolicy(Lag8x),
        "lagkv-press-4x" => new LagKvPolicy(Press4x),
        "streaming" => new StreamingLlmPolicy(new KvBudget(Lag2x)),
        "h2o" => new H2OPolicy(new KvBudget(Lag8x)),
        _ => throw new ArgumentException(name),
    };

    private static PrefillSchedule Prefill(string name, string policy) => name switch
    {
        "auto" => LagKvPrefill.Auto(policy == "lagkv-8x" ? Lag8x : Lag2x),
        "one-shot" => PrefillSchedule.WholePrompt,
        _ => PrefillSchedule.Fixed(int.Parse(name)),
    };

    /// <summary>
    /// Eight requests from 1 to 1500 prompt tokens, each with its own policy and schedule; on ILGPU's
    /// simulator (every GPU thread an OS thread) six shorter ones, still spanning LagKV partitions.
    /// </summary>
    private static Spec[] Mix(bool small, SamplingOptions sampling) => small
        ?
        [
            new(1, "full", "512", sampling),
            new(20, "lagkv-2x", "one-shot", sampling),
            new(44, "lagkv-8x", "auto", sampling),
            new(36, "lagkv-press-4x", "one-shot", sampling),
            new(30, "streaming", "8", sampling),
            new(12, "full", "4", sampling),
        ]
        :
        [
            new(1, "full", "512", sampling),
            new(40, "lagkv-2x", "auto", sampling),
            new(130, "full", "one-shot", sampling),
            new(333, "lagkv-8x", "auto", sampling),
            new(600, "lagkv-press-4x", "one-shot", sampling),
            new(900, "streaming", "64", sampling),
            new(1200, "h2o", "128", sampling),
            new(1500, "lagkv-2x", "one-shot", sampling),
        ];

    public static IEnumerable<TestCaseData> Cases()
    {
        var seeded = new SamplingOptions { Temperature = 0.9, TopK = 20, TopP = 0.95, MinP = 0.02, RepetitionPenalty = 1.1, Seed = 1234 };
        foreach (string backend in new[] { "cpu-simd", "ilgpu-cpu" })
        {
            bool small = backend == "ilgpu-cpu";
            yield return new TestCaseData(backend, Mix(small, SamplingOptions.Greedy)).SetName($"GreedyMixBatchedEqualsAlone({backend})");
            // The simulator runs whole models slowly: seeded sampling adds nothing backend-specific, so it runs on the SIMD backend only.
            if (!small) yield return new TestCaseData(backend, Mix(small, seeded)).SetName($"SeededMixBatchedEqualsAlone({backend})");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public async Task EachRequestOfABatchGivesWhatItGivesAlone(string backendName, Spec[] specs)
    {
        bool small = backendName == "ilgpu-cpu";
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32) with { MaxPositionEmbeddings = 2048 }, seed: 21);
        using var engine = InferenceEngine.Create("tiny", ModelBackends.Create(backendName), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { PageSize = 8, KvMemoryBytes = 64L << 20 }, ownsBackend: true);
        var random = new Random(3);
        int[][] prompts = specs.Select(s => Enumerable.Range(0, s.PromptLength).Select(_ => random.Next(3, tiny.Config.VocabSize)).ToArray()).ToArray();
        GenerationOptions Options(Spec s) => new()
        {
            MaxTokens = small ? 4 : 24, IgnoreEos = true, Logprobs = 3, Sampling = s.Sampling,
            KvPolicy = Policy(s.Policy), Prefill = Prefill(s.Prefill, s.Policy),
        };

        var alone = new List<Completion>();
        for (int i = 0; i < specs.Length; i++)
        {
            var completion = engine.Generate(prompts[i], Options(specs[i]));
            await completion.RunToEndAsync();
            alone.Add(completion);
        }
        long stepsAlone = engine.Steps.Steps;

        var together = specs.Select((s, i) => engine.Generate(prompts[i], Options(s))).ToArray();
        await Task.WhenAll(together.Select(c => Task.Run(() => c.RunToEndAsync())));

        Assert.That(engine.Steps.PeakSequencesPerStep, Is.GreaterThanOrEqualTo(3), "the requests shared steps");
        Assert.That(engine.Steps.Steps - stepsAlone, Is.LessThan(stepsAlone), "batching took fewer steps than running alone");
        for (int i = 0; i < specs.Length; i++)
        {
            string what = $"request {i} ({specs[i]})";
            SameOutput.Assert(together[i], alone[i], 1e-4, what);
            Assert.That(together[i].FinishReason, Is.EqualTo(FinishReason.Length), what);
            Assert.That(together[i].Stats.Layers.Select(l => l.PhysicalLength), Is.EqualTo(alone[i].Stats.Layers.Select(l => l.PhysicalLength)), what);
        }
        Assert.That(engine.Cache.UsedPages, Is.Zero, "every page came back");
        Assert.That(engine.Cache.UnreservedFreePages, Is.EqualTo(engine.Cache.PageCount), "every reservation came back");
    }
}
