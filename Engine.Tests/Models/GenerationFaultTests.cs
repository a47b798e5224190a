using Engine.Core;
using Engine.Core.Sampling;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Models;

/// <summary>
/// What a request does when it cannot go on: the KV pool runs out, the logits turn non-finite, the caller
/// cancels during the prefill. The tokens so far are kept and the finish reason says why.
/// </summary>
public class GenerationFaultTests
{
    private static InferenceEngine FourPageEngine(TinyModel tiny)
    {
        long pageBytes = Kernels.KvPool.BytesPerPageFor(tiny.Config.NumKvHeads, 16, tiny.Config.HeadDim, DType.F32);
        return InferenceEngine.Create("tiny", new ReferenceBackend(), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { KvMemoryBytes = pageBytes * 4, KvDType = DType.F32 }, ownsBackend: true);
    }

    [Test]
    public void KvExhaustionInDecodeKeepsTheTokensSoFar()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = FourPageEngine(tiny); // 2 layers x 2 pages of 16 slots: 32 slots per layer
        var c = engine.Generate(Enumerable.Range(3, 30).ToArray(), new GenerationOptions { MaxTokens = 40, Sampling = SamplingOptions.Greedy, IgnoreEos = true });
        var streamed = c.Run().Select(t => t.Id).ToList();
        // 30 prompt slots; tokens 1 and 2 are fed back (slots 31, 32); feeding token 3 needs a third page.
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.KvExhausted));
        Assert.That(c.FinishReason!.Value.Name(), Is.EqualTo("kv_exhausted"));
        Assert.That(c.TokenIds, Has.Count.EqualTo(3).And.EqualTo(streamed));
        Assert.That(c.FinishMessage, Does.StartWith("KV cache pool exhausted").And.Not.Contain("\n"));
        Assert.That(c.Stats.GeneratedTokens, Is.EqualTo(3));
        Assert.That(engine.Cache.UsedPages, Is.Zero, "the pages go back");
    }

    [Test]
    public void KvExhaustionInThePrefillEndsWithNoTokens()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = FourPageEngine(tiny);
        var c = engine.Generate(Enumerable.Range(3, 40).ToArray(), new GenerationOptions { MaxTokens = 5, Sampling = SamplingOptions.Greedy, Prefill = PrefillSchedule.Fixed(16) });
        Assert.That(c.Run().Count(), Is.Zero);
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.KvExhausted));
        Assert.That(c.Stats.PrefillTokens, Is.EqualTo(32), "two chunks of 16 fit, the third does not");
        Assert.That(engine.Cache.UsedPages, Is.Zero);
    }

    [TestCase(0)] // greedy: argmax on the device, the chosen logit checked
    [TestCase(3)] // logprobs: every logit checked on the host
    public void NonFiniteLogitsEndWithErrorAndNoTokenChosenFromThem(int logprobs)
    {
        // A final norm of 3e38 overflows the hidden state, and so the logits, to infinity.
        using var damaged = new DamagedModel("model.norm.weight", 3e38f);
        using var engine = InferenceEngine.Load(damaged.Folder, new EngineOptions { Device = "cpu" });
        var c = engine.Generate([1], engine.DefaultOptions() with { MaxTokens = 5, Sampling = SamplingOptions.Greedy, Logprobs = logprobs });
        Assert.That(c.Run().Count(), Is.Zero);
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Error));
        Assert.That(c.TokenIds, Is.Empty);
        Assert.That(c.FinishMessage, Does.StartWith("the logits turned non-finite").And.Not.Contain("\n"));
    }

    [Test]
    public void NonFiniteWeightsAreNamedAtLoad()
    {
        using var damaged = new DamagedModel("model.layers.2.input_layernorm.weight", float.NaN);
        var e = Assert.Throws<EngineException>(() => InferenceEngine.Load(damaged.Folder, new EngineOptions { Device = "cpu" }))!;
        Assert.That(e.Message, Does.StartWith("tensor model.layers.2.input_layernorm.weight").And.Contain("non-finite").And.Not.Contain("\n"));
    }

    [TestCase(DType.F32, 0x7FC0_0000u)]
    [TestCase(DType.F32, 0xFF80_0000u)]
    [TestCase(DType.F16, 0x7C00u)]
    [TestCase(DType.F16, 0xFE01u)]
    [TestCase(DType.BF16, 0x7F80u)]
    [TestCase(DType.BF16, 0xFFC1u)]
    public void ScanFindsTheFirstNonFiniteElement(DType dtype, uint bits)
    {
        int size = DTypes.SizeOf(dtype);
        foreach (int at in new[] { 0, 1, 37, 200, 299 })
        {
            var data = new byte[300 * size];
            var rng = new Random(at);
            for (int i = 0; i < 300; i++)
            {
                // Finite values of every magnitude: the exponent never all ones.
                uint finite = size == 4 ? (uint)rng.Next(0, 0x7F00_0000) | (uint)rng.Next(2) << 31 : (uint)rng.Next(0, dtype == DType.F16 ? 0x7BFF : 0x7F7F) | (uint)rng.Next(2) << 15;
                Write(data, i, size, finite);
            }
            Assert.That(NonFiniteScan.IndexOf(data, dtype), Is.EqualTo(-1));
            Write(data, at, size, bits);
            Write(data, Math.Min(at + 5, 299), size, bits);
            Assert.That(NonFiniteScan.IndexOf(data, dtype), Is.EqualTo(at), $"{dtype} at {at}");
        }
    }

    private static void Write(byte[] data, int index, int size, uint value)
    {
        if (size == 4) BitConverter.TryWriteBytes(data.AsSpan(index * 4), value);
        else BitConverter.TryWriteBytes(data.AsSpan(index * 2), (ushort)value);
    }

    [Test]
    public void CancelledPrefillCountsOnlyWhatWasPrefilled()
    {
        using var tiny = new TinyModel(TinyModel.Llama(), seed: 3);
        using var engine = InferenceEngine.Create("tiny", new ReferenceBackend(), tiny.Checkpoint, tiny.Config,
            options: new EngineOptions { KvMemoryBytes = 1 << 20 }, ownsBackend: true);
        using var cts = new CancellationTokenSource();
        // The policy sees each prefill chunk: cancel after the first of four.
        var options = new GenerationOptions { MaxTokens = 5, Sampling = SamplingOptions.Greedy, Prefill = PrefillSchedule.Fixed(16), KvPolicy = new CancelAfterFirstChunk(cts) };
        var c = engine.Generate(Enumerable.Range(3, 64).ToArray(), options);
        Assert.That(c.Run(cts.Token).Count(), Is.Zero);
        Assert.That(c.FinishReason, Is.EqualTo(FinishReason.Cancelled));
        Assert.That(c.Stats.PromptTokens, Is.EqualTo(64));
        Assert.That(c.Stats.PrefillTokens, Is.EqualTo(16));
        Assert.That(c.Stats.PrefillTokensPerSecond, Is.EqualTo(16 / (c.Stats.PrefillMs / 1000)).Within(1e-9));
    }

    private sealed class CancelAfterFirstChunk(CancellationTokenSource cts) : Engine.Models.Kv.IKvCachePolicy
    {
        public string Name => "cancel";
        public bool Compresses(int layer) => false;
        public Engine.Models.Kv.KvPolicyState CreateState(int layers) => new(layers);
        public void AfterAttention(Engine.Models.Kv.KvStepContext step) => cts.Cancel();
    }
}
