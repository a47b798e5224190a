using System.Text.Json;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Kernels;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Models;

/// <summary>
/// The engine on the shared real checkpoints against their references: stories260K (llama2.c's
/// greedy ids, fp64 logits) and llama-tiny (Hugging Face transformers' logits and greedy tokens).
/// </summary>
public class RealModelTests
{
    private static IEnumerable<string> Backends() => ModelBackends.Real();

    /// <summary>Logits of every position of <paramref name="tokens"/> (fed in chunks), on a fresh engine.</summary>
    private static float[][] AllLogits(IBackend backend, string folder, int[] tokens, int chunk, DType? kvDType = null)
    {
        var config = ModelConfigLoader.Load(folder);
        using var checkpoint = Checkpoint.Open(folder);
        using var engine = InferenceEngine.Create("test", backend, checkpoint, config,
            options: new EngineOptions { KvDType = kvDType, KvMemoryBytes = 64L << 20, ContextLimit = 4096 });
        using var sequence = engine.Cache.CreateSequence();
        var rows = new List<float[]>();
        for (int done = 0; done < tokens.Length; done += chunk)
        {
            int n = Math.Min(chunk, tokens.Length - done);
            var logits = engine.Model.Forward(sequence, tokens.AsSpan(done, n), new ForwardStep(true, done + n == tokens.Length, true));
            var host = new float[n * config.VocabSize];
            backend.Download<float>(logits, host);
            for (int i = 0; i < n; i++) rows.Add(host.AsSpan(i * config.VocabSize, config.VocabSize).ToArray());
        }
        return rows.ToArray();
    }

    [TestCaseSource(nameof(Backends))]
    public void Stories260KGreedyIdsAndFirstLogitsMatchReference(string backendName)
    {
        string folder = SharedAssets.Require("models", "stories260K");
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "reference_greedy.json")));
        int[] expectedIds = reference.RootElement.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var expectedLogits = reference.RootElement.GetProperty("logits_by_pos").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(e => e.GetDouble()).ToArray()).ToArray();

        var config = ModelConfigLoader.Load(folder);
        using (var backend = ModelBackends.Create(backendName))
        using (var checkpoint = Checkpoint.Open(folder))
        using (var engine = InferenceEngine.Create("stories260K", backend, checkpoint, config, GenerationConfigLoader.Load(folder, config)))
        {
            var completion = engine.Generate([1], engine.DefaultOptions() with { MaxTokens = 200 });
            foreach (var _ in completion.Run()) { }
            Assert.That(completion.TokenIds, Is.EqualTo(expectedIds));
            Assert.That(completion.FinishReason, Is.EqualTo(FinishReason.Length));
        }

        using var backend2 = ModelBackends.Create(backendName);
        var actual = AllLogits(backend2, folder, [1, .. expectedIds[..3]], chunk: 2);
        ForwardPassTests.AssertClose(actual, expectedLogits, 1e-4);
    }

    private static readonly int[] PromptLengths = [1, 7, 64, 300, 1500];

    private static IEnumerable<TestCaseData> TinyCases()
    {
        foreach (string backend in Backends())
            foreach (string weights in new[] { "f32", "bf16" })
                yield return new TestCaseData(backend, weights);
    }

    private static int[] TinyPrompt(int length)
    {
        string path = SharedAssets.Require("references", "llama-tiny", "prompts.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("prompts").GetProperty(length.ToString()).EnumerateArray().Select(e => e.GetInt32()).ToArray();
    }

    [TestCaseSource(nameof(TinyCases))]
    public void LlamaTinyLastLogitsMatchTransformers(string backendName, string weights)
    {
        string folder = SharedAssets.Require("models", weights == "f32" ? "llama-tiny-f32" : "llama-tiny");
        string refs = SharedAssets.Require("references", "llama-tiny", weights);
        using var backend = ModelBackends.Create(backendName);
        foreach (int length in PromptLengths)
        {
            var expected = NpyReader.Read(Path.Combine(refs, $"last_logits_L{length}.npy")).Data;
            // F32 KV: the reference computed in f32 from upcast weights. At 1500 tokens transformers' own
            // f32 rounding reaches 1.6e-4 (an exact float64 forward differs from it by that much).
            var all = AllLogits(backend, folder, TinyPrompt(length), chunk: 512, kvDType: DType.F32);
            ForwardPassTests.AssertClose([all[^1]], [expected], length <= 300 ? 1e-4 : 3e-4);
        }
        var full = NpyReader.Read(Path.Combine(refs, "full_logits_L64.npy"));
        var actualFull = AllLogits(backend, folder, TinyPrompt(64), chunk: 7, kvDType: DType.F32);
        ForwardPassTests.AssertClose(actualFull, Enumerable.Range(0, 64).Select(i => full.Row(i).ToArray()).ToArray(), 1e-4);
    }

    [TestCaseSource(nameof(TinyCases))]
    public void LlamaTinyGreedyTokensMatchTransformers(string backendName, string weights)
    {
        string folder = SharedAssets.Require("models", weights == "f32" ? "llama-tiny-f32" : "llama-tiny");
        var expected = NpyReader.Read(SharedAssets.Require("references", "llama-tiny", weights, "greedy_tokens.npy"));
        var config = ModelConfigLoader.Load(folder);
        using var backend = ModelBackends.Create(backendName);
        using var checkpoint = Checkpoint.Open(folder);
        using var engine = InferenceEngine.Create("llama-tiny", backend, checkpoint, config,
            options: new EngineOptions { ContextLimit = 2048 }); // KV in the model's dtype, as `engine run` defaults
        for (int p = 0; p < PromptLengths.Length; p++)
        {
            var completion = engine.Generate(TinyPrompt(PromptLengths[p]), new GenerationOptions { MaxTokens = 32, IgnoreEos = true, Sampling = Engine.Core.Sampling.SamplingOptions.Greedy });
            foreach (var _ in completion.Run()) { }
            Assert.That(completion.TokenIds, Is.EqualTo(expected.Row(p).ToArray().Select(d => (int)d).ToArray()), $"prompt of {PromptLengths[p]} tokens");
        }
    }
}
