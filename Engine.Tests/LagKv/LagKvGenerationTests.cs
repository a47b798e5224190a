using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Core.Sampling;
using Engine.Kernels;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Tests.Models;
using NUnit.Framework;

namespace Engine.Tests.LagKv;

/// <summary>LagKV inside real generation on a tiny random model: "use, then compress", lengths, no host traffic.</summary>
[TestFixture]
public class LagKvGenerationTests
{
    private static readonly LagKvOptions Options = new() { SinkSize = 4, LagSize = 16, Retention = 0.25 };
    private const int PromptLength = 100, MaxTokens = 60;

    public static IEnumerable<string> Backends() => ModelBackends.Real();

    private static (int[] Tokens, GenerationStats Stats) Generate(IBackend backend, TinyModel tiny, int[] prompt, IKvCachePolicy? policy, PrefillSchedule prefill)
    {
        using var engine = InferenceEngine.Create("tiny", backend, tiny.Checkpoint, tiny.Config, options: new EngineOptions { PageSize = 8 });
        var completion = engine.Generate(prompt, new GenerationOptions
        {
            MaxTokens = MaxTokens, IgnoreEos = true, Sampling = SamplingOptions.Greedy, Prefill = prefill, KvPolicy = policy,
        });
        int[] tokens = completion.Run().Select(t => t.Id).ToArray();
        return (tokens, completion.Stats);
    }

    [TestCaseSource(nameof(Backends))]
    public void FirstTokenMatchesTheFullCacheAfterOneShotPrefillAndNoKvGoesToTheHost(string backendName)
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32), seed: 11);
        var random = new Random(5);
        int[] prompt = Enumerable.Range(0, PromptLength).Select(_ => random.Next(tiny.Config.VocabSize)).ToArray();

        using var fullBackend = ModelBackends.Create(backendName);
        var full = Generate(fullBackend, tiny, prompt, null, PrefillSchedule.WholePrompt);
        using var lagBackend = ModelBackends.Create(backendName);
        var policy = new LagKvPolicy(Options);
        var lag = Generate(lagBackend, tiny, prompt, policy, PrefillSchedule.WholePrompt);

        Assert.That(lag.Tokens[0], Is.EqualTo(full.Tokens[0]), "the prefill's own attention used the full cache");
        Assert.That(lag.Tokens, Has.Length.EqualTo(MaxTokens));
        foreach (var layer in lag.Stats.Layers)
            Assert.That(layer.PhysicalLength, Is.EqualTo(LagKvSchedule.LengthAfter(Options, layer.LogicalLength)));
        Assert.That(lag.Stats.Layers[0].PhysicalLength, Is.LessThan(full.Stats.Layers[0].PhysicalLength));
        Assert.That(lag.Stats.KvPagesUsed, Is.LessThan(full.Stats.KvPagesUsed));
        // Greedy decoding downloads one argmax index per token; LagKV adds nothing to that.
        Assert.That(lag.Stats.BytesToHost, Is.EqualTo(full.Stats.BytesToHost), "LagKV moved bytes to the host");
    }

    [TestCaseSource(nameof(Backends))]
    public void AutoPrefillChunksGiveTheSameLengthsAsOneShot(string backendName)
    {
        using var tiny = new TinyModel(TinyModel.Qwen2(DType.BF16), seed: 3);
        var random = new Random(9);
        int[] prompt = Enumerable.Range(0, PromptLength).Select(_ => random.Next(tiny.Config.VocabSize)).ToArray();
        var schedule = LagKvPrefill.Auto(Options);
        Assert.That(schedule.Chunks(PromptLength), Is.EqualTo(new[] { 36, 16, 16, 16, 16 }));

        using var backend = ModelBackends.Create(backendName);
        var policy = new LagKvPolicy(Options with { SkipLayers = new HashSet<int> { 0 } });
        var run = Generate(backend, tiny, prompt, policy, schedule);
        var layers = run.Stats.Layers;
        Assert.That(layers[0].PhysicalLength, Is.EqualTo(layers[0].LogicalLength), "skipped layer keeps everything");
        Assert.That(layers[1].PhysicalLength, Is.EqualTo(LagKvSchedule.LengthAfter(Options, layers[1].LogicalLength)));
    }
}
