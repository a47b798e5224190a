using Engine.Core;
using Engine.Core.Config;
using Engine.Kernels;
using Engine.Models;
using Engine.Models.Kv;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Models;

/// <summary>
/// The paged, chunked forward pass against the whole-sequence float64 <see cref="HostTransformer"/> on
/// tiny random Llama and Qwen2 models: every position's logits, for several chunk and page sizes.
/// </summary>
public class ForwardPassTests
{
    public enum Kind { LlamaF32Untied, LlamaBf16Tied, LlamaF16Untied, LlamaLlama3Rope, Qwen2Bf16, Qwen2F32Untied }

    private static ModelConfig ConfigOf(Kind kind) => kind switch
    {
        Kind.LlamaF32Untied => TinyModel.Llama(DType.F32, tied: false),
        Kind.LlamaBf16Tied => TinyModel.Llama(DType.BF16, tied: true),
        Kind.LlamaF16Untied => TinyModel.Llama(DType.F16, tied: false),
        Kind.LlamaLlama3Rope => TinyModel.LlamaWithLlama3Rope(),
        Kind.Qwen2Bf16 => TinyModel.Qwen2(DType.BF16),
        Kind.Qwen2F32Untied => TinyModel.Qwen2(DType.F32, tied: false),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private const int PromptLength = 80;

    private static int[] Prompt(int vocab) { var r = new Random(7); return Enumerable.Range(0, PromptLength).Select(_ => r.Next(vocab)).ToArray(); }

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (string backend in ModelBackends.All())
            foreach (Kind kind in Enum.GetValues<Kind>())
                foreach (int chunk in new[] { 1, 7, 64, 0 })
                    foreach (int page in new[] { 16, 64 })
                        yield return new TestCaseData(backend, kind, chunk, page);
    }

    /// <summary>Runs the prompt through the engine in chunks and returns every position's logits.</summary>
    internal static float[][] EngineLogits(IBackend backend, TinyModel tiny, int[] prompt, int chunk, int pageSize, DType kvDType)
    {
        var config = tiny.Config;
        using var weights = Engine.Models.Weights.ModelWeights.Upload(backend, tiny.Checkpoint, config);
        using var model = new LlamaModel(backend, config, weights);
        using var cache = new PagedKvCache(backend, config, pageCount: 64, pageSize, kvDType);
        using var sequence = cache.CreateSequence();
        var result = new List<float[]>();
        int size = chunk == 0 ? prompt.Length : chunk;
        for (int done = 0; done < prompt.Length; done += size)
        {
            int n = Math.Min(size, prompt.Length - done);
            var logits = model.Forward(sequence, prompt.AsSpan(done, n), new ForwardStep(true, done + n == prompt.Length, AllLogits: true));
            var host = new float[n * config.VocabSize];
            backend.Download<float>(logits, host);
            for (int i = 0; i < n; i++) result.Add(host.AsSpan(i * config.VocabSize, config.VocabSize).ToArray());
        }
        Assert.That(sequence.LogicalLength, Is.EqualTo(prompt.Length));
        Assert.That(sequence.Layers.All(l => l.PhysicalLength == prompt.Length));
        return result.ToArray();
    }

    [TestCaseSource(nameof(Cases))]
    public void ChunkedPagedForwardMatchesFloat64Reference(string backendName, Kind kind, int chunk, int pageSize)
    {
        using var tiny = new TinyModel(ConfigOf(kind), seed: (int)kind + 1);
        int[] prompt = Prompt(tiny.Config.VocabSize);
        var expected = new HostTransformer(tiny.Config, tiny.Checkpoint).Logits(prompt);
        using var backend = ModelBackends.Create(backendName);
        var actual = EngineLogits(backend, tiny, prompt, chunk, pageSize, DType.F32);
        AssertClose(actual, expected, 2e-3);
    }

    [Test]
    public void IlgpuCpuAcceleratorRunsATinyChunkedForwardPass()
    {
        if (!TestBackends.Available().Contains("ilgpu-cpu")) Assert.Ignore("ILGPU's CPU accelerator is not registered");
        // Tiny on purpose: the accelerator simulates every GPU thread.
        using var tiny = new TinyModel(TinyModel.Qwen2(DType.BF16), seed: 21);
        int[] prompt = Prompt(tiny.Config.VocabSize)[..12];
        var expected = new HostTransformer(tiny.Config, tiny.Checkpoint).Logits(prompt);
        using var backend = TestBackends.Create("ilgpu-cpu");
        AssertClose(EngineLogits(backend, tiny, prompt, 5, 16, DType.F32), expected, 2e-3);
    }

    [TestCase(DType.BF16, 0.08)]
    [TestCase(DType.F16, 0.01)]
    public void KvStoredInHalfPrecisionStaysCloseToReference(DType kvDType, double tolerance)
    {
        foreach (string backendName in ModelBackends.All())
        {
            using var tiny = new TinyModel(TinyModel.Llama(DType.BF16), seed: 11);
            int[] prompt = Prompt(tiny.Config.VocabSize);
            var expected = new HostTransformer(tiny.Config, tiny.Checkpoint).Logits(prompt);
            using var backend = ModelBackends.Create(backendName);
            AssertClose(EngineLogits(backend, tiny, prompt, 7, 16, kvDType), expected, tolerance);
        }
    }

    internal static void AssertClose(float[][] actual, double[][] expected, double tolerance)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length));
        double worst = 0;
        int worstRow = 0;
        for (int t = 0; t < actual.Length; t++)
            for (int i = 0; i < actual[t].Length; i++)
            {
                double diff = Math.Abs(actual[t][i] - expected[t][i]);
                if (!(diff <= worst)) { worst = diff; worstRow = t; }
            }
        Assert.That(worst, Is.LessThanOrEqualTo(tolerance), $"largest logit difference {worst} at position {worstRow}");
    }
}
