using System.Text.Json;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;
using Engine.Core.Config;
using Engine.Core.Sampling;
using Engine.Kernels;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Tests.Models;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>
/// GGUF models end to end: stories260K from llama.cpp's converter reproduces the trained model's greedy
/// text byte for byte, and every kq-tiny file (every supported type) its float64 greedy reference,
/// on the SIMD backend and on ILGPU's CPU accelerator.
/// </summary>
public class GgufModelTests
{
    /// <summary>Device names (as --device takes them) of the SIMD backend, ILGPU's CPU accelerator and any GPU present.</summary>
    private static IEnumerable<string> Backends() => TestBackends.Available().Select(b => b == "cpu-simd" ? "cpu" : b);

    /// <summary>
    /// ILGPU's CPU accelerator simulates every GPU thread: a whole model takes minutes per token on a
    /// shared 2-core machine, so stories260K's 200 tokens there run when asked for by name (as is on a GPU).
    /// </summary>
    private static TestCaseData Case(TestCaseData data, string backend) =>
        backend == "ilgpu-cpu" ? data.Explicit("ILGPU's CPU accelerator is minutes per model here; run by name") : data;

    /// <summary>
    /// The kq-tiny prompts and greedy steps checked per backend: all of them, except on ILGPU's CPU accelerator
    /// (an OS thread per simulated GPU thread), where the 16-token prompt (a prefill through the matrix-matrix
    /// kernels) and its first 4 tokens (decode steps through the matrix-vector ones) keep every file in the
    /// normal suite.
    /// </summary>
    private static (string[]? Prompts, int Steps) TinySchedule(string backend) => backend == "ilgpu-cpu" ? (["L16"], 4) : (null, int.MaxValue);

    /// <summary>The backends whose fast quantized products round activations to 8 bits: the SIMD backend, and CUDA (dp4a).</summary>
    private static bool HasInt8Products(string backend) => backend is "cpu" or "cuda";

    private static IEnumerable<TestCaseData> BackendCases() =>
        Backends().Select(b => Case(new TestCaseData(b).SetName($"Stories260KGreedyTextMatchesExpectedByteForByte({b})"), b));

    private static InferenceEngine Load(string backend, string path, KernelSet kernels = KernelSet.Fast) =>
        InferenceEngine.Load(path, new EngineOptions { Device = backend, Kernels = kernels, KvDType = DType.F32, KvMemoryBytes = 16L << 20, ContextLimit = 1024 });

    [Test]
    public void Stories260KConfigMatchesItsHuggingFaceConfig()
    {
        var fromGguf = ModelConfigLoader.Load(GgufAssets.Path("stories260K-f32.gguf"));
        var fromHf = ModelConfigLoader.Load(SharedAssets.Require("models", "stories260K"));
        Assert.That(fromGguf with { RmsNormEps = fromHf.RmsNormEps, DType = fromHf.DType }, Is.EqualTo(fromHf with { EosTokenIds = fromGguf.EosTokenIds }));
        Assert.That((float)fromGguf.RmsNormEps, Is.EqualTo((float)fromHf.RmsNormEps));
    }

    [TestCase("stories260K-f32.gguf")]
    [TestCase("stories260K-f16.gguf")]
    public void TensorsEqualTheSafetensorsCheckpointWithQkRowsUnpermuted(string name)
    {
        string folder = SharedAssets.Require("models", "stories260K");
        using var gguf = Checkpoint.Open(GgufAssets.Path(name));
        using var hf = Checkpoint.Open(folder);
        var config = ModelConfigLoader.Load(folder);
        foreach (var expected in WeightSpec.For(config))
        {
            float[] want = hf.Get(expected.Name).ToFloat32Array();
            var view = gguf.Get(expected.Name);
            Assert.That(view.Shape, Is.EqualTo(expected.Shape), expected.Name);
            float[] got = view.ToFloat32Array();
            if (name.Contains("f16") && view.DType == DType.F16) want = want.Select(v => (float)(Half)v).ToArray();
            Assert.That(got, Is.EqualTo(want), expected.Name);
        }
    }

    [TestCaseSource(nameof(BackendCases))]
    public void Stories260KGreedyTextMatchesExpectedByteForByte(string backend)
    {
        string expected = File.ReadAllText(SharedAssets.Require("models", "stories260K", "expected_greedy_200.txt"));
        using var reference = GgufAssets.Json("stories260K-greedy200.json");
        int[] ids = reference.RootElement.GetProperty("files").GetProperty("stories260K-f32.gguf").GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var engine = Load(backend, GgufAssets.Path("stories260K-f32.gguf"));
        var completion = engine.Generate([1], engine.DefaultOptions() with { MaxTokens = 200, IgnoreEos = true });
        string text = string.Concat(completion.Run().Select(t => t.Text));
        Assert.That(completion.TokenIds, Is.EqualTo(ids));
        Assert.That(text, Is.EqualTo(expected));
    }

    private static IEnumerable<TestCaseData> TinyCases()
    {
        foreach (string backend in Backends())
            foreach (string file in GgufAssets.KqTinyFiles)
                yield return new TestCaseData(backend, file).SetName($"KqTinyReproducesFloat64Reference({backend}, {file})");
    }

    /// <summary>
    /// Every prompt's 32 greedy tokens exactly, top-5 log-probabilities within 2e-3 (the model computes in
    /// float32; fewer on the simulator: <see cref="TinySchedule"/>). The SIMD backend and CUDA run their portable
    /// kernels here (quantized weights times float activations): their fast ones round activations to 8 bits,
    /// checked by <see cref="KqTinyWithInt8ActivationsFollowsFloat64Reference"/>.
    /// </summary>
    [TestCaseSource(nameof(TinyCases))]
    public void KqTinyReproducesFloat64Reference(string backend, string file)
    {
        using var engine = Load(backend, GgufAssets.Path(file), HasInt8Products(backend) ? KernelSet.Portable : KernelSet.Fast);
        AssertFollowsReference(engine, file, logprobTolerance: 2e-3, exactAboveMargin: 0, TinySchedule(backend));
    }

    private static IEnumerable<TestCaseData> QuantizedTinyFiles() =>
        from backend in Backends().Where(HasInt8Products)
        from f in GgufAssets.KqTinyFiles.Where(f => !f.EndsWith("f32.gguf", StringComparison.Ordinal) && !f.EndsWith("bf16.gguf", StringComparison.Ordinal))
        select new TestCaseData(backend, f).SetName(backend == "cpu" ? $"KqTinyWithInt8ActivationsFollowsFloat64Reference({f})" : $"KqTinyWithInt8ActivationsFollowsFloat64Reference({backend}, {f})");

    /// <summary>
    /// The SIMD backend's and CUDA's fast kernels (activations rounded to 8 bits per block, as llama.cpp) against the
    /// same float64 references: kq-tiny's random activations put the rounding at about 0.1-0.4 nats of
    /// log-probability already on the first token (measured; about 1/254 of each block's largest |x| per value),
    /// so the greedy tokens must agree wherever the reference's top-1 beats its top-2 by at least 0.5 nats,
    /// a prompt's comparison ends at its first near-tie that flips (the continuations then differ
    /// legitimately), and log-probabilities stay within 0.75 up to there.
    /// </summary>
    [TestCaseSource(nameof(QuantizedTinyFiles))]
    public void KqTinyWithInt8ActivationsFollowsFloat64Reference(string backend, string file)
    {
        using var engine = Load(backend, GgufAssets.Path(file), KernelSet.Fast);
        AssertFollowsReference(engine, file, logprobTolerance: 0.75, exactAboveMargin: 0.5, TinySchedule(backend));
    }

    /// <summary>
    /// Greedy tokens and top-5 log-probabilities of every prompt against kq-tiny-float64.json: a token may
    /// differ only where the reference's top-1 log-probability beats its top-2 by less than
    /// <paramref name="exactAboveMargin"/> (0: never), and the prompt's comparison ends there. Only the
    /// <paramref name="schedule"/>'s prompts (null: all) and its first steps are compared.
    /// </summary>
    private static void AssertFollowsReference(InferenceEngine engine, string file, double logprobTolerance, double exactAboveMargin, (string[]? Prompts, int Steps) schedule)
    {
        using var reference = GgufAssets.Json("kq-tiny-float64.json");
        var entry = reference.RootElement.GetProperty("files").GetProperty(file);
        var prompts = entry.GetProperty("prompts").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => Ints(p.GetProperty("ids")));
        foreach (var result in entry.GetProperty("results").EnumerateArray())
        {
            string prompt = result.GetProperty("prompt").GetString()!;
            if (schedule.Prompts is not null && !schedule.Prompts.Contains(prompt)) continue;
            int[] want = Ints(result.GetProperty("tokens")).Take(schedule.Steps).ToArray();
            var completion = engine.Generate(prompts[prompt], new GenerationOptions { MaxTokens = want.Length, IgnoreEos = true, Logprobs = 5, Sampling = new SamplingOptions { Temperature = 0 } });
            var tokens = completion.Run().ToList();
            Assert.That(tokens, Has.Count.EqualTo(want.Length), $"{file} prompt {prompt}: tokens");
            var top5 = result.GetProperty("top5").EnumerateArray().ToList();
            double worst = 0;
            for (int step = 0; step < tokens.Count; step++)
            {
                var expected = top5[step].EnumerateArray().Select(p => (Id: p[0].GetInt32(), Logprob: p[1].GetDouble())).ToList();
                var actual = tokens[step].TopLogprobs!;
                foreach (var (id, logprob) in expected)
                {
                    var match = actual.FirstOrDefault(p => p.Id == id);
                    if (match.Id != id) continue; // ranks 4-5 may swap on near-ties
                    worst = Math.Max(worst, Math.Abs(match.Logprob - logprob));
                }
                if (tokens[step].Id == want[step])
                {
                    if (exactAboveMargin == 0) Assert.That(actual.Take(5).Select(p => p.Id), Is.EqualTo(expected.Select(p => p.Id)).Or.Count.EqualTo(5), $"{prompt} step {step}");
                    continue;
                }
                double margin = expected[0].Logprob - expected[1].Logprob;
                Assert.That(margin, Is.LessThan(exactAboveMargin),
                    $"{file} prompt {prompt} step {step}: token {tokens[step].Id} instead of {want[step]}, where the reference's top-1 leads its top-2 by {margin:F3} nats");
                break;
            }
            Assert.That(worst, Is.LessThan(logprobTolerance), $"{file} prompt {prompt}: worst top-5 log-probability error");
        }
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
