using Engine.Core;
using Engine.Core.Config;
using Engine.Core.Hub;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Hub;

/// <summary>models.json: found beside the binary, the required models present, and its numbers consistent with its shapes.</summary>
[TestFixture]
public class ModelRegistryTests
{
    private TempFolder _folder = null!;

    [SetUp]
    public void SetUp() => _folder = new TempFolder();

    [TearDown]
    public void TearDown() => _folder.Dispose();

    [TestCase("qwen2-7b", "Qwen/Qwen2-7B-Instruct", ModelArchitecture.Qwen2)]
    [TestCase("qwen2.5-7b", "Qwen/Qwen2.5-7B-Instruct", ModelArchitecture.Qwen2)]
    [TestCase("qwen2.5-1.5b", "Qwen/Qwen2.5-1.5B-Instruct", ModelArchitecture.Qwen2)]
    [TestCase("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", ModelArchitecture.Qwen2)]
    [TestCase("llama-3.1-8b", "meta-llama/Llama-3.1-8B-Instruct", ModelArchitecture.Llama)]
    [TestCase("llama-3.2-1b", "meta-llama/Llama-3.2-1B-Instruct", ModelArchitecture.Llama)]
    public void RequiredModelsAreRegistered(string name, string repo, ModelArchitecture architecture)
    {
        var entry = ModelRegistry.Default.Find(name);
        Assert.That(entry, Is.Not.Null);
        Assert.That(entry!.Repo, Is.EqualTo(repo));
        Assert.That(entry.Architecture, Is.EqualTo(architecture));
        Assert.That(entry.Config.Architecture, Is.EqualTo(architecture));
        Assert.That(entry.Revision, Is.EqualTo("main"));
    }

    [Test]
    public void BuiltInRegistryIsTheRepositoryCopy()
    {
        static object Key(RegistryEntry e) => (e.Name, e.Repo, e.Revision, e.Parameters, e.Bytes, e.LagKv, e.Config.HiddenSize, e.Config.MaxPositionEmbeddings);
        var repository = ModelRegistry.Load(Path.Combine(SharedAssets.RepoRoot, ModelRegistry.FileName)).Entries.Select(Key);
        Assert.That(ModelRegistry.BuiltIn().Entries.Select(Key), Is.EqualTo(repository));
        Assert.That(ModelRegistry.LoadDefault(null).Entries.Select(Key), Is.EqualTo(repository), "without ENGINE_MODELS");
    }

    [Test]
    public void EngineModelsReplacesTheBuiltInRegistry()
    {
        string path = Write($"{{\"models\": [{ValidEntry}]}}");
        Assert.That(ModelRegistry.LoadDefault(path).Entries.Select(e => e.Name), Is.EqualTo(new[] { "tiny" }));
        var e = Assert.Throws<EngineException>(() => ModelRegistry.LoadDefault(path + ".missing"))!;
        Assert.That(e.Message, Does.StartWith("ENGINE_MODELS=").And.Contain("no such file"));
    }

    [Test]
    public void LookupIgnoresCase() => Assert.That(ModelRegistry.Default.Find("QWEN2.5-0.5B")?.Name, Is.EqualTo("qwen2.5-0.5b"));

    [Test]
    public void LookupByRepoFindsTheEntry()
    {
        Assert.That(ModelRegistry.Default.FindByRepo("meta-llama/llama-3.2-1b-instruct")?.Name, Is.EqualTo("llama-3.2-1b"));
        Assert.That(ModelRegistry.Default.FindByRepo("meta-llama/Llama-2-7b-hf"), Is.Null);
    }

    [Test]
    public void Qwen25HalfBillionHasItsRealShape()
    {
        var config = ModelRegistry.Default.Find("qwen2.5-0.5b")!.Config;
        Assert.That((config.HiddenSize, config.NumLayers, config.NumHeads, config.NumKvHeads, config.HeadDim), Is.EqualTo((896, 24, 14, 2, 64)));
        Assert.That((config.IntermediateSize, config.VocabSize, config.MaxPositionEmbeddings), Is.EqualTo((4864, 151936, 32768)));
        Assert.That(config.TieWordEmbeddings, Is.True);
        Assert.That(config.RopeTheta, Is.EqualTo(1e6));
        Assert.That(config.DType, Is.EqualTo(DType.BF16));
        Assert.That(config.QkvBias, Is.True);
        Assert.That(config.OutputProjBias, Is.False);
    }

    [Test]
    public void Llama31HasLlama3RopeScaling()
    {
        var scaling = ModelRegistry.Default.Find("llama-3.1-8b")!.Config.RopeScaling;
        Assert.That(scaling, Is.EqualTo(new RopeScaling(RopeScalingType.Llama3, 8.0, 1.0, 4.0, 8192)));
        Assert.That(ModelRegistry.Default.Find("llama-3.1-8b")!.Config.EosTokenIds, Is.EqualTo(new[] { 128001, 128008, 128009 }));
    }

    /// <summary>The recorded parameter count must be what the recorded shape implies, and the byte size that of bf16 weights.</summary>
    [Test]
    public void ParameterCountsFollowFromTheShapes()
    {
        foreach (var entry in ModelRegistry.Default.Entries)
        {
            var c = entry.Config;
            long h = c.HiddenSize;
            long attention = h * c.QueryDim + 2 * h * c.KvDim + (long)c.QueryDim * h
                             + (c.QkvBias ? c.QueryDim + 2L * c.KvDim : 0) + (c.OutputProjBias ? h : 0);
            long mlp = 3 * h * c.IntermediateSize + (c.MlpBias ? 2L * c.IntermediateSize + h : 0);
            long perLayer = attention + mlp + 2 * h;
            long embeddings = (long)c.VocabSize * h * (c.TieWordEmbeddings ? 1 : 2);
            long expected = c.NumLayers * perLayer + embeddings + h;
            Assert.That(entry.Parameters, Is.EqualTo(expected), entry.Name);
            Assert.That(entry.Bytes, Is.InRange(2 * expected, 2 * expected + (1 << 20)), entry.Name + ": bf16 weights plus safetensors headers");
            Assert.That(c.NumHeads % c.NumKvHeads, Is.Zero, entry.Name);
            Assert.That(entry.LagKv.SinkSize, Is.LessThan(entry.LagKv.LagSize), entry.Name);
            Assert.That(entry.LagKv.Retention, Is.InRange(0.0, 1.0), entry.Name);
        }
    }

    private string Write(string json)
    {
        string path = _folder.Combine("models.json");
        File.WriteAllText(path, json);
        return path;
    }

    private const string ValidEntry = """
        {"name": "tiny", "repo": "org/tiny", "architecture": "llama", "parameters": 10, "bytes": 20,
         "lagkv": {"lag_size": 64, "sink_size": 4, "ratio": 4},
         "config": {"model_type": "llama", "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                    "num_key_value_heads": 1, "head_dim": 4, "vocab_size": 32, "max_position_embeddings": 128,
                    "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": null, "tie_word_embeddings": true,
                    "torch_dtype": "float32"}}
        """;

    [Test]
    public void MinimalEntryLoadsWithDefaults()
    {
        var registry = ModelRegistry.Load(Write($"{{\"models\": [{ValidEntry}]}}"));
        var entry = registry.Find("tiny")!;
        Assert.That(entry.Revision, Is.EqualTo("main"));
        Assert.That(entry.LagKv, Is.EqualTo(new LagKvRecommendation(64, 4, 4)));
        Assert.That(entry.LagKv.Retention, Is.EqualTo(0.25));
        Assert.That(entry.Config.DType, Is.EqualTo(DType.F32));
        Assert.That(entry.Config.QkvBias, Is.False);
    }

    [TestCase("\"architecture\": \"llama\"", "\"architecture\": \"gpt2\"", "unknown architecture 'gpt2'")]
    [TestCase("\"hidden_size\": 8,", "", "missing required key \"hidden_size\"")]
    [TestCase("\"model_type\": \"llama\"", "\"model_type\": \"qwen2\"", "config describes qwen2, not 'llama'")]
    [TestCase("\"repo\": \"org/tiny\"", "\"repo\": \"tiny\"", "not an org/name repo id")]
    [TestCase("\"ratio\": 4", "\"ratio\": 0", "'ratio' must be a positive number")]
    [TestCase("\"torch_dtype\": \"float32\"", "\"torch_dtype\": \"int8\"", "torch_dtype \"int8\" is not supported")]
    public void MalformedEntryIsAOneLineError(string from, string to, string expected)
    {
        string path = Write($"{{\"models\": [{ValidEntry.Replace(from, to, StringComparison.Ordinal)}]}}");
        var error = Assert.Throws<EngineException>(() => ModelRegistry.Load(path));
        Assert.That(error!.Message, Does.Contain(expected).And.Contain(path));
        Assert.That(error.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void DuplicateNamesAreRejected()
    {
        string path = Write($"{{\"models\": [{ValidEntry}, {ValidEntry}]}}");
        Assert.That(Assert.Throws<EngineException>(() => ModelRegistry.Load(path))!.Message, Does.Contain("listed twice"));
    }

    [Test]
    public void InvalidJsonIsReported()
    {
        string path = Write("{\"models\": [");
        Assert.That(Assert.Throws<EngineException>(() => ModelRegistry.Load(path))!.Message, Does.Contain("not valid JSON"));
    }
}
