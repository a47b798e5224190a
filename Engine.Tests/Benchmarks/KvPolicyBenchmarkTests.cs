using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Kernels.Cpu;
using Engine.Models;
using Engine.Models.Benchmarks;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Tests.Models;
using NUnit.Framework;

namespace Engine.Tests.Benchmarks;

/// <summary>The policy-versus-baseline benchmark on a tiny random model: what it counts, not how fast.</summary>
public class KvPolicyBenchmarkTests
{
    private static readonly LagKvOptions Options = new() { SinkSize = 4, LagSize = 16, Retention = 0.25 };
    private const int Prompt = 100, Gen = 40;

    private static InferenceEngine Engine(TinyModel tiny) =>
        InferenceEngine.Create("tiny", new SimdBackend(2), tiny.Checkpoint, tiny.Config, options: new EngineOptions { PageSize = 8 }, ownsBackend: true);

    [Test]
    public void TimerCountsEveryLagKvCompressionAndIsDetachedAfterwards()
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32), seed: 7);
        using var engine = Engine(tiny);
        var policy = new LagKvPolicy(Options);
        var perRequest = new List<int>();
        var report = KvPolicyBenchmark.Run(engine, new BenchSettings(Prompt, Gen, 2), randomWeights: true, LagKvPrefill.Auto(Options), policy,
            (side, _, stats) =>
            {
                if (side == "kv policy") perRequest.Add(stats.KvPolicyLayers.Sum(l => l.Compressions));
            });

        Assert.That(policy.Timer, Is.Null, "the benchmark's timer stays attached");
        Assert.That(perRequest, Has.Count.EqualTo(2));
        Assert.That(perRequest[0], Is.GreaterThan(0));
        // Counted per request: the warm-up and the earlier repetition are not in it.
        Assert.That(report.Kv.CompressionsPerRequest, Is.EqualTo(perRequest[1]));
        Assert.That(report.Kv.CompressionShareOfPrefill, Is.InRange(0.0, 1.0));
        Assert.That(report.Kv.CompressionShareOfDecode, Is.InRange(0.0, 1.0));

        int tokens = Prompt + Gen - 1;
        int layers = tiny.Config.NumLayers;
        Assert.That(report.Kv.LogicalSlots, Is.EqualTo((long)layers * tokens));
        Assert.That(report.Kv.PhysicalSlots, Is.EqualTo(layers * LagKvSchedule.LengthAfter(Options, tokens)));
        Assert.That(report.BaselineKv!.PhysicalSlots, Is.EqualTo(report.BaselineKv.LogicalSlots));
        Assert.That(report.Kv.KvBytes, Is.LessThan(report.BaselineKv.KvBytes));
        Assert.That(report.Baseline!.PromptTokens, Is.EqualTo(Prompt));
        long freed = (report.Kv.LogicalSlots - report.Kv.PhysicalSlots) * report.Result.KvBytesPerToken / layers;
        Assert.That(report.Result.DecodeBytesPerToken, Is.EqualTo(report.Baseline.DecodeBytesPerToken - freed), "decode reads only the kept slots");
    }

    [Test]
    public void WithoutAPolicyThereIsOneSideAndNoCompressionTime()
    {
        using var tiny = new TinyModel(TinyModel.Qwen2(DType.BF16), seed: 5);
        using var engine = Engine(tiny);
        var report = KvPolicyBenchmark.Run(engine, new BenchSettings(Prompt, 4, 1), randomWeights: true, PrefillSchedule.Fixed(32), policy: null);
        Assert.That(report.Baseline, Is.Null);
        Assert.That(report.Kv.CompressionsPerRequest, Is.Zero);
        Assert.That(report.Kv.CompressionPrefillMs, Is.Zero);
        Assert.That(report.Kv.CompressionRatio, Is.EqualTo(1));
        Assert.That(report.ToJson("full", null, "32").ContainsKey("kv_policy"), Is.False);
    }

    [Test]
    public void PoliciesWithoutTheirOwnTimerAreWrapped()
    {
        var timer = new KvCompressionTimer();
        var lagKv = new LagKvPolicy(Options);
        Assert.That(TimedKvPolicy.Attach(lagKv, timer), Is.SameAs(lagKv));
        Assert.That(lagKv.Timer, Is.SameAs(timer));
        var streaming = new StreamingLlmPolicy(new KvBudget(Options));
        Assert.That(TimedKvPolicy.Attach(streaming, timer), Is.InstanceOf<TimedKvPolicy>());
    }
}
