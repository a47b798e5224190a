using Engine.Core;
using Engine.Core.Sampling;
using Engine.Kernels;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Tests.Models;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Scheduling;

/// <summary>
/// Token choice on the device (ILGPU's CPU accelerator): requests with their own sampling settings (greedy, seeded
/// sampling with penalties, top-k, top-p, min-p) give the same tokens in a shared batch as alone, and a seeded
/// request the same tokens every time.
/// </summary>
public sealed class DeviceSamplingBatchTests
{
    [Test]
    public async Task SampledRequestsGiveTheSameTokensInABatchAsAlone()
    {
        using var tiny = new TinyModel(TinyModel.Qwen2(DType.BF16), seed: 5);
        using var engine = InferenceEngine.Create("tiny", TestBackends.Create("ilgpu-cpu"), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { PageSize = 8, KvMemoryBytes = 8L << 20 }, ownsBackend: true);
        SamplingOptions[] settings =
        [
            new() { Temperature = 0.9, TopK = 20, TopP = 0.95, MinP = 0.02, RepetitionPenalty = 1.1, Seed = 1234 },
            SamplingOptions.Greedy with { FrequencyPenalty = 0.5, PresencePenalty = 0.3 },
            new() { Temperature = 1.3, TopP = 0.8, FrequencyPenalty = 0.2, Seed = 99 },
        ];
        var random = new Random(4);
        int[][] prompts = settings.Select(_ => Enumerable.Range(0, 3 + random.Next(6)).Select(_ => random.Next(3, tiny.Config.VocabSize)).ToArray()).ToArray();
        GenerationOptions Options(SamplingOptions s) => new() { MaxTokens = 4, IgnoreEos = true, Sampling = s };

        var alone = new List<IReadOnlyList<int>>();
        foreach (var (prompt, s) in prompts.Zip(settings))
        {
            var completion = engine.Generate(prompt, Options(s));
            await completion.RunToEndAsync();
            alone.Add(completion.TokenIds.ToArray());
        }
        var again = engine.Generate(prompts[0], Options(settings[0]));
        await again.RunToEndAsync();
        Assert.That(again.TokenIds, Is.EqualTo(alone[0]), "a seeded request repeats itself");

        var together = prompts.Zip(settings).Select(p => engine.Generate(p.First, Options(p.Second))).ToArray();
        await Task.WhenAll(together.Select(c => Task.Run(() => c.RunToEndAsync())));
        Assert.That(engine.Steps.PeakSequencesPerStep, Is.GreaterThanOrEqualTo(2), "the requests shared steps");
        for (int i = 0; i < settings.Length; i++)
            Assert.That(together[i].TokenIds, Is.EqualTo(alone[i]), $"request {i}");
    }
}
