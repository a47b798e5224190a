using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;
using Engine.Core.Config;
using Engine.Core.Text;
using Engine.Kernels;
using Engine.Models;
using Engine.Tests.Models;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>
/// `engine quantize`: the GGUF it writes passes the strict reader, holds exactly the tensors `--quantize`
/// makes at load (and, where llama.cpp's converter quantized the same tensor, its very bytes), carries the
/// tokenizer, and generates the same greedy tokens as the source quantized at load.
/// </summary>
public class GgufModelWriterTests
{
    private TempFolder _temp = null!;

    [SetUp]
    public void SetUp() => _temp = new TempFolder();

    [TearDown]
    public void TearDown() => _temp.Dispose();

    private static string Stories => SharedAssets.Require("models", "stories260K");

    private string QuantizeStories()
    {
        string output = _temp.File("stories260K-Q8_0.gguf");
        var (code, stdout, stderr) = Run("quantize", "--model", Stories, "--type", "q8_0", "--out", output);
        Assert.That(code, Is.Zero, stderr);
        Assert.That(stdout, Does.Contain("Q8_0 31").And.Contain("F32 16"));
        return output;
    }

    [Test]
    public void WrittenFileHoldsExactlyTheTensorsQuantizeAtLoadMakes()
    {
        string written = QuantizeStories();
        using var file = GgufFile.Open(written); // the strict validation
        Assert.That(file.Version, Is.EqualTo(3u));
        Assert.That(file.Alignment, Is.EqualTo(32u));
        Assert.That(file.Metadata.GetString("general.architecture"), Is.EqualTo("llama"));
        Assert.That(file.Metadata["llama.block_count"], Is.TypeOf<uint>(), "llama.cpp checks key types: counts are uint32");
        Assert.That(file.Metadata["llama.attention.layer_norm_rms_epsilon"], Is.TypeOf<float>());
        Assert.That(file.Metadata.GetInteger("general.file_type"), Is.EqualTo(7), "LLAMA_FTYPE_MOSTLY_Q8_0");

        using var gguf = GgufCheckpoint.Open(written);
        using var source = Checkpoint.Open(Stories);
        using var quantized = new QuantizedCheckpoint(source, DType.Q8_0);
        var config = ModelConfigLoader.Load(Stories);
        Assert.That(gguf.Config with { RmsNormEps = config.RmsNormEps, DType = config.DType }, Is.EqualTo(config with { EosTokenIds = gguf.Config.EosTokenIds }));
        foreach (var expected in WeightSpec.For(config))
        {
            var want = quantized.Get(expected.Name);
            var got = gguf.Get(expected.Name); // q/k rows un-permuted by the reader: the writer's permutation is its inverse
            Assert.That(got.DType, Is.EqualTo(want.DType), expected.Name);
            Assert.That(got.Bytes.SequenceEqual(want.Bytes), Is.True, expected.Name);
        }
    }

    [Test]
    public void QuantizedTensorsAreLlamaCppsOwnBytes()
    {
        using var ours = GgufFile.Open(QuantizeStories());
        using var llamaCpp = GgufFile.Open(GgufAssets.Path("stories260K-q8_0.gguf"));
        int compared = 0;
        foreach (var tensor in ours.Tensors)
        {
            Assert.That(llamaCpp.TryGetTensor(tensor.Name, out var theirs), Is.True, $"llama.cpp has no tensor {tensor.Name}");
            Assert.That(tensor.Dims, Is.EqualTo(theirs.Dims), tensor.Name);
            if (tensor.Type != theirs.Type) continue; // ffn_down: llama.cpp's converter falls back to F16, the engine keeps F32
            Assert.That(ours.Bytes(tensor).SequenceEqual(llamaCpp.Bytes(theirs)), Is.True, tensor.Name);
            compared++;
        }
        Assert.That(compared, Is.EqualTo(ours.Tensors.Count - 5));
        foreach (string key in new[] { "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token" })
            Assert.That(ours.Metadata[key], Is.EqualTo(llamaCpp.Metadata[key]), key);
        Assert.That(ours.Metadata.GetArray<string>("tokenizer.ggml.tokens", "string"), Is.EqualTo(llamaCpp.Metadata.GetArray<string>("tokenizer.ggml.tokens", "string")));
        Assert.That(ours.Metadata.GetArray<int>("tokenizer.ggml.token_type", "int32"), Is.EqualTo(llamaCpp.Metadata.GetArray<int>("tokenizer.ggml.token_type", "int32")));
    }

    [Test]
    public void TokenizerEncodesAsTheSourceTokenizerJson()
    {
        var written = TextTokenizer.Load(QuantizeStories());
        var original = TextTokenizer.Load(Stories);
        string text = File.ReadAllText(Path.Combine(Stories, "expected_greedy_200.txt")) + " Zebras? 42 naïve\ttabs";
        Assert.That(written.Encode(text), Is.EqualTo(original.Encode(text)));
        Assert.That(written.BosId, Is.EqualTo(original.BosId));
        Assert.That(written.AddsBos, Is.EqualTo(original.AddsBos));
        Assert.That(written.EosIds, Is.EquivalentTo(original.EosIds));
    }

    [Test]
    public void GreedyTokensEqualTheSourceQuantizedAtLoad()
    {
        string written = QuantizeStories();
        var options = new EngineOptions { Device = "cpu", KvDType = DType.F32, KvMemoryBytes = 8L << 20, ContextLimit = 256 };
        using var fromFile = InferenceEngine.Load(written, options);
        using var source = Checkpoint.Open(Stories);
        using var quantized = new QuantizedCheckpoint(source, DType.Q8_0);
        using var backend = BackendFactory.Create("cpu");
        using var atLoad = InferenceEngine.Create("stories260K --quantize q8_0", backend, quantized, ModelConfigLoader.Load(Stories), options: options);
        int[] Greedy(InferenceEngine engine)
        {
            var completion = engine.Generate([1], engine.DefaultOptions() with { MaxTokens = 60, IgnoreEos = true });
            completion.Run().ToList();
            return completion.TokenIds.ToArray();
        }
        Assert.That(Greedy(fromFile), Is.EqualTo(Greedy(atLoad)));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void TinyModelsOfBothArchitecturesRoundTrip(bool qwen2)
    {
        var config = qwen2 ? TinyModel.Qwen2() : TinyModel.LlamaWithLlama3Rope();
        using var tiny = new TinyModel(config with { VocabSize = 96 });
        string output = _temp.File("tiny.gguf");
        GgufModelWriter.Write(tiny.Config, tiny.Checkpoint, null, DType.Q8_0, output, "tiny");

        using var gguf = GgufCheckpoint.Open(output);
        using var quantized = new QuantizedCheckpoint(tiny.Checkpoint, DType.Q8_0);
        Assert.That(gguf.Config.Architecture, Is.EqualTo(tiny.Config.Architecture));
        Assert.That(gguf.Config.QkvBias, Is.EqualTo(tiny.Config.QkvBias));
        if (!qwen2) Assert.That(ModelRope(gguf.Config), Is.EqualTo(ModelRope(tiny.Config)).Within(1e-6), "llama3 scaling as rope_freqs factors");
        foreach (var expected in WeightSpec.For(tiny.Config))
        {
            var want = quantized.Get(expected.Name);
            var got = gguf.Get(expected.Name);
            if (expected.Shape.Length == 1) Assert.That(got.ToFloat32Array(), Is.EqualTo(want.ToFloat32Array()), expected.Name);
            else Assert.That(got.Bytes.SequenceEqual(want.Bytes), Is.True, expected.Name);
        }
    }

    private static float[] ModelRope(ModelConfig config) => RopeFrequencies.Compute(config);

    [Test]
    public void BadArgumentsAreOneLineErrors()
    {
        var (code, _, error) = Run("quantize", "--model", Stories, "--type", "q3_k", "--out", _temp.File("x.gguf"));
        Assert.That(code, Is.Not.Zero);
        Assert.That(error, Does.Contain("'q3_k' is not a quantization type"));
        (code, _, error) = Run("quantize", "--model", Stories, "--type", "q8_0", "--out", _temp.File("x.bin"));
        Assert.That(error, Does.Contain("must end in .gguf"));
        string source = GgufAssets.Path("stories260K-f32.gguf");
        (code, _, error) = Run("quantize", "--model", source, "--type", "q8_0", "--out", source);
        Assert.That(error, Does.Contain("is the model being quantized"));
        Assert.That(error.Trim(), Does.Not.Contain('\n'));
    }
}
