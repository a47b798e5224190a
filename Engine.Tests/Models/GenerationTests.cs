using Engine.Core;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;
using NUnit.Framework;

namespace Engine.Tests.Models;

/// <summary>The generation loop on a tiny random model: finish reasons, stop strings, limits, cancellation, statistics, memory.</summary>
public class GenerationTests
{
    /// <summary>Each id decodes to one letter, so text positions map to tokens.</summary>
    private sealed class LetterTextStream : ITokenTextStream
    {
        public static string Of(int id) => ((char)('a' + id % 26)).ToString();
        public string Push(int tokenId) => Of(tokenId);
        public string Flush() => "";
    }

    private sealed class RecordingPolicy : IKvCachePolicy
    {
        public string Name => "recording";
        public bool Compresses(int layer) => false;
        public KvPolicyState CreateState(int layers) => new(layers);
        public List<(int Layer, int Tokens, bool Prefill, bool LastChunk, int Physical)> Calls { get; } = [];
        public void AfterAttention(KvStepContext step) =>
            Calls.Add((step.Layer, step.StepTokens, step.IsPrefill, step.IsLastPrefillChunk, step.Sequence.Layers[step.Layer].PhysicalLength));
    }

    private static readonly int[] Prompt = [5, 17, 33, 8, 61, 2 + 40, 9, 70, 11, 3];

    private static InferenceEngine Engine(string backendName, TinyModel tiny, EngineOptions? options = null) =>
        InferenceEngine.Create("tiny", ModelBackends.Create(backendName), tiny.Checkpoint, tiny.Config,
            options: options ?? new EngineOptions { KvMemoryBytes = 1 << 20 }, textStreams: () => new LetterTextStream(), ownsBackend: true);

    private static GenerationOptions Greedy(int maxTokens) => new() { MaxTokens = maxTokens, Sampling = SamplingOptions.Greedy, IgnoreEos = true };

    private static List<int> Drain(Completion c) { foreach (var _ in c.Run()) { } return c.TokenIds.ToList(); }

    private static IEnumerable<string> Backends() => ModelBackends.All();

    [TestCaseSource(nameof(Backends))]
    public void MaxTokensEndsWithLengthAndStatsAreFilled(string backend)
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine(backend, tiny);
        var c = engine.Generate(Prompt, Greedy(12) with { Prefill = PrefillSchedule.Fixed(4) });
        var ids = Drain(c);
        Assert.That(ids, Has.Count.EqualTo(12));
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Length));
        Assert.That(c.Text, Is.EqualTo(string.Concat(ids.Select(LetterTextStream.Of))));
        var s = c.Stats;
        Assert.That(s.PromptTokens, Is.EqualTo(Prompt.Length));
        Assert.That(s.GeneratedTokens, Is.EqualTo(12));
        // The last token is never fed back, so the cache holds prompt + 11 tokens in every layer.
        Assert.That(s.Layers, Has.Count.EqualTo(tiny.Config.NumLayers));
        Assert.That(s.Layers.All(l => l.LogicalLength == Prompt.Length + 11 && l.PhysicalLength == Prompt.Length + 11));
        Assert.That(s.KvPagesUsed, Is.EqualTo(tiny.Config.NumLayers * ((Prompt.Length + 11 + 15) / 16)));
        Assert.That(s.KvBytes, Is.EqualTo(s.KvPagesUsed * engine.Cache.BytesPerPage));
        Assert.That(s.BytesToDevice, Is.GreaterThan(0));
        Assert.That(engine.Cache.UsedPages, Is.Zero, "pages go back when the request ends");
    }

    [TestCaseSource(nameof(Backends))]
    public void GreedyMatchesTheFloat64ReferenceTokenByToken(string backend)
    {
        using var tiny = new TinyModel(TinyModel.Qwen2(), seed: 4);
        using var engine = Engine(backend, tiny);
        var ids = Drain(engine.Generate(Prompt, Greedy(8) with { Prefill = PrefillSchedule.Fixed(3) }));
        var reference = new HostTransformer(tiny.Config, tiny.Checkpoint);
        var sequence = Prompt.ToList();
        foreach (int id in ids)
        {
            var logits = reference.Logits(sequence.ToArray())[^1];
            Assert.That(id, Is.EqualTo(Array.IndexOf(logits, logits.Max())));
            sequence.Add(id);
        }
    }

    [TestCaseSource(nameof(Backends))]
    public void StopStringSpanningTokensEndsGenerationAndIsCut(string backend)
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine(backend, tiny);
        string full = string.Concat(Drain(engine.Generate(Prompt, Greedy(12))).Select(LetterTextStream.Of));
        string stop = full.Substring(5, 3); // the text of tokens 5, 6 and 7
        int at = full.IndexOf(stop, StringComparison.Ordinal);

        var c = engine.Generate(Prompt, Greedy(12) with { StopStrings = [stop] });
        var streamed = string.Concat(c.Run().Select(t => t.Text));
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Stop));
        Assert.That(c.Text, Is.EqualTo(full[..at]));
        Assert.That(streamed, Is.EqualTo(full[..at]));
        Assert.That(c.TokenIds, Has.Count.EqualTo(at + 3));
    }

    [TestCaseSource(nameof(Backends))]
    public void EosEndsGenerationUnlessIgnored(string backend)
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine(backend, tiny);
        var full = Drain(engine.Generate(Prompt, Greedy(12)));
        int eos = full[4];
        var c = engine.Generate(Prompt, Greedy(12) with { IgnoreEos = false, EosTokenIds = [eos] });
        var ids = Drain(c);
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Eos));
        Assert.That(ids, Is.EqualTo(full[..(full.IndexOf(eos) + 1)]));

        var ignoring = engine.Generate(Prompt, Greedy(12) with { IgnoreEos = true, EosTokenIds = [eos] });
        Assert.That(Drain(ignoring), Is.EqualTo(full));
        Assert.That(ignoring.FinishReason, Is.EqualTo(FinishReason.Length));
    }

    [Test]
    public void ContextLimitEndsGenerationAndAnOverlongPromptFailsBeforeAnyWork()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine("reference", tiny, new EngineOptions { KvMemoryBytes = 1 << 20, ContextLimit = 14 });
        var c = engine.Generate(Prompt, Greedy(100));
        Assert.That(Drain(c), Has.Count.EqualTo(14 - Prompt.Length + 1));
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Context));

        long toDevice = engine.Backend.Transfers.BytesToDevice;
        var e = Assert.Throws<EngineException>(() => engine.Generate(Enumerable.Range(1, 15).ToArray(), Greedy(5)));
        Assert.That(e!.Message, Does.Contain("15 tokens").And.Contain("context of 14"));
        Assert.That(engine.Backend.Transfers.BytesToDevice, Is.EqualTo(toDevice), "nothing ran");
    }

    [Test]
    public async Task CancellationEndsTheStreamCleanly()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine("reference", tiny);
        using var cts = new CancellationTokenSource();
        var c = engine.Generate(Prompt, Greedy(50));
        int seen = 0;
        await foreach (var _ in c.StreamAsync(cts.Token))
            if (++seen == 3) cts.Cancel();
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Cancelled));
        Assert.That(c.TokenIds, Has.Count.EqualTo(3));
        Assert.That(engine.Cache.UsedPages, Is.Zero);
        // The engine takes the next request.
        Assert.That(await engine.Generate(Prompt, Greedy(2)).RunToEndAsync(), Is.EqualTo(FinishReason.Length));
    }

    [Test]
    public void AbandonedEnumerationCountsAsCancelledAndFreesTheEngine()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine("reference", tiny);
        var c = engine.Generate(Prompt, Greedy(50));
        foreach (var _ in c.Run()) break;
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Cancelled));
        Assert.That(c.TokenIds, Has.Count.EqualTo(1));
        Assert.That(engine.Cache.UsedPages, Is.Zero);
        Assert.That(Drain(engine.Generate(Prompt, Greedy(2))), Has.Count.EqualTo(2));
    }

    [TestCaseSource(nameof(Backends))]
    public void SeededSamplingRepeatsAndLogprobsAreNormalised(string backend)
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine(backend, tiny);
        var options = Greedy(10) with { Sampling = new SamplingOptions { Temperature = 1.2, TopK = 20, TopP = 0.95, Seed = 9 }, Logprobs = 5 };
        var a = engine.Generate(Prompt, options);
        var b = engine.Generate(Prompt, options);
        Assert.That(Drain(a), Is.EqualTo(Drain(b)));
        Assert.That(a.Logprobs, Has.Count.EqualTo(10));
        foreach (var step in a.Logprobs)
        {
            Assert.That(step, Has.Count.EqualTo(5));
            Assert.That(step.Select(t => t.Logprob), Is.Ordered.Descending);
            Assert.That(step.Sum(t => Math.Exp(t.Logprob)), Is.LessThanOrEqualTo(1 + 1e-9));
        }
        Assert.That(a.Stats.LogitsCopyMs, Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void PolicySeesEveryLayerOfEveryStepAfterItsKvWrite()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine("reference", tiny);
        var policy = new RecordingPolicy();
        Drain(engine.Generate(Prompt, Greedy(3) with { Prefill = PrefillSchedule.Fixed(6), KvPolicy = policy }));
        int layers = tiny.Config.NumLayers;
        // Chunks of 6 and 4, then two decode steps (the third token is never fed back).
        Assert.That(policy.Calls, Has.Count.EqualTo(4 * layers));
        Assert.That(policy.Calls.Take(layers).All(c => c is { Tokens: 6, Prefill: true, LastChunk: false, Physical: 6 }));
        Assert.That(policy.Calls.Skip(layers).Take(layers).All(c => c is { Tokens: 4, Prefill: true, LastChunk: true, Physical: 10 }));
        Assert.That(policy.Calls.Skip(2 * layers).All(c => c is { Tokens: 1, Prefill: false }));
        Assert.That(policy.Calls.Select(c => c.Layer).Take(layers), Is.EqualTo(Enumerable.Range(0, layers)));
    }

    [TestCaseSource(nameof(Backends))]
    public void DisposeReturnsAllDeviceMemory(string backend)
    {
        using var tiny = new TinyModel(TinyModel.Llama(DType.BF16), seed: 3);
        var device = ModelBackends.Create(backend);
        try
        {
            long before = device.AllocatedBytes;
            var engine = InferenceEngine.Create("tiny", device, tiny.Checkpoint, tiny.Config, options: new EngineOptions { KvMemoryBytes = 1 << 20 });
            Drain(engine.Generate(Prompt, Greedy(5)));
            Assert.That(device.AllocatedBytes, Is.GreaterThan(before));
            engine.Dispose();
            Assert.That(device.AllocatedBytes, Is.EqualTo(before));
        }
        finally { device.Dispose(); }
    }

    [Test]
    public void BadRequestsAreOneLineEngineErrors()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = Engine("reference", tiny);
        Assert.Throws<EngineException>(() => engine.Generate([], Greedy(5)));
        Assert.Throws<EngineException>(() => engine.Generate([tiny.Config.VocabSize], Greedy(5)));
        Assert.Throws<EngineException>(() => engine.Generate(Prompt, Greedy(0)));
        Assert.Throws<EngineException>(() => engine.Generate(Prompt, Greedy(5) with { Logprobs = 21 }));
        Assert.Throws<EngineException>(() => engine.Generate("text prompt"), "no tokenizer");
    }
}
