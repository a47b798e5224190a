using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Tests.Models;
using NUnit.Framework;

namespace Engine.Tests.Scheduling;

/// <summary>Multi-turn sessions: only new tokens are prefilled, and the cache carries on exactly.</summary>
public class ChatSessionTests
{
    private static IEnumerable<string> Backends() => ModelBackends.All();

    private static InferenceEngine Engine(string backend, TinyModel tiny) =>
        InferenceEngine.Create("tiny", ModelBackends.Create(backend), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { PageSize = 8, KvMemoryBytes = 16L << 20 }, ownsBackend: true);

    private static int[] Tokens(Random random, int count, int vocab) => Enumerable.Range(0, count).Select(_ => random.Next(3, vocab)).ToArray();

    private static GenerationOptions Greedy(int maxTokens, int logprobs = 0) =>
        new() { MaxTokens = maxTokens, IgnoreEos = true, Sampling = SamplingOptions.Greedy, Logprobs = logprobs, Prefill = PrefillSchedule.Fixed(16) };

    [TestCaseSource(nameof(Backends))]
    public async Task ThirdTurnMatchesAFreshPrefillOfTheWholeConversation(string backend)
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32), seed: 4);
        using var engine = Engine(backend, tiny);
        var random = new Random(8);
        using var session = engine.StartSession();
        int vocab = tiny.Config.VocabSize;

        await session.Append(Tokens(random, 30, vocab), Greedy(6)).RunToEndAsync();
        Assert.That(session.Tokens, Has.Count.EqualTo(36));
        Assert.That(session.CachedTokens, Is.EqualTo(35), "the reply's last token is fed by the next turn");

        var second = session.Append(Tokens(random, 12, vocab), Greedy(5));
        await second.RunToEndAsync();
        Assert.That(second.Stats.PrefillTokens, Is.EqualTo(13), "only the new turn and the previous reply's last token are prefilled");

        int[] turn3 = Tokens(random, 9, vocab);
        int[] conversation = [.. session.Tokens, .. turn3];
        var third = session.Append(turn3, Greedy(4, logprobs: 8));
        await third.RunToEndAsync();
        Assert.That(third.Stats.PrefillTokens, Is.EqualTo(10));

        var fresh = engine.Generate(conversation, Greedy(4, logprobs: 8));
        await fresh.RunToEndAsync();
        SameOutput.Assert(third, fresh);
        session.Dispose();
        Assert.That(engine.Cache.UsedPages, Is.Zero);
    }

    [Test]
    public async Task AChangedHistoryRewindsAnUncompressedCache()
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.F32), seed: 4);
        using var engine = Engine("cpu-simd", tiny);
        var random = new Random(2);
        using var session = engine.StartSession();
        int[] first = Tokens(random, 20, tiny.Config.VocabSize);
        await session.Continue(first, Greedy(3)).RunToEndAsync();
        // The next turn re-renders the conversation differently from token 10 on.
        int[] changed = [.. first[..10], .. Tokens(random, 15, tiny.Config.VocabSize)];
        var turn = session.Continue(changed, Greedy(3, logprobs: 4));
        await turn.RunToEndAsync();
        Assert.That(turn.Stats.PrefillTokens, Is.EqualTo(15));
        var fresh = engine.Generate(changed, Greedy(3, logprobs: 4));
        await fresh.RunToEndAsync();
        SameOutput.Assert(turn, fresh);
    }

    [Test]
    public async Task ALagKvSessionKeepsCompressingAsTurnsAddPartitions()
    {
        using var tiny = new TinyModel(TinyModel.Qwen2(DType.F32), seed: 6);
        using var engine = Engine("cpu-simd", tiny);
        var random = new Random(4);
        var lag = new LagKvOptions { SinkSize = 4, LagSize = 16, Retention = 0.25 };
        var options = Greedy(8) with { KvPolicy = new LagKvPolicy(lag), Prefill = LagKvPrefill.Auto(lag) };
        using var session = engine.StartSession();
        int previous = 0;
        for (int turn = 0; turn < 3; turn++)
        {
            await session.Append(Tokens(random, 40, tiny.Config.VocabSize), options).RunToEndAsync();
            var stats = session.Sequence!.Stats();
            int compressions = stats.Sum(l => l.Compressions);
            Assert.That(compressions, Is.GreaterThan(previous), $"turn {turn} compressed");
            previous = compressions;
            foreach (var layer in stats)
                Assert.That(layer.PhysicalLength, Is.EqualTo(LagKvSchedule.LengthAfter(lag, layer.LogicalLength)), $"turn {turn}, layer {layer.Layer}");
        }
        // A compressed cache cannot be rewound: a changed history is refused, not silently wrong.
        int[] changed = [.. session.Tokens];
        changed[5] = changed[5] == 3 ? 4 : 3;
        Assert.Throws<EngineException>(() => session.Continue(changed, options));
    }
}
