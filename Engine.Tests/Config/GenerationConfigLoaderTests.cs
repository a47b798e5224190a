using Engine.Core;
using Engine.Core.Config;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Config;

public class GenerationConfigLoaderTests
{
    private const string Source = "test/generation_config.json";

    private static ModelConfig Model(int? bos, params int[] eos) => new()
    {
        Architecture = ModelArchitecture.Llama, HiddenSize = 8, IntermediateSize = 16, NumLayers = 1, NumHeads = 2, NumKvHeads = 1,
        HeadDim = 4, VocabSize = 10, MaxPositionEmbeddings = 32, RmsNormEps = 1e-5, RopeTheta = 10000, BosTokenId = bos, EosTokenIds = eos,
    };

    [Test]
    public void ReadsEverySamplingDefault()
    {
        var g = GenerationConfigLoader.Parse("{\"do_sample\": true, \"temperature\": 0.7, \"top_k\": 20, \"top_p\": 0.8, \"min_p\": 0.05,"
            + " \"repetition_penalty\": 1.05, \"max_new_tokens\": 512, \"max_length\": 4096, \"bos_token_id\": 151643,"
            + " \"eos_token_id\": [151645, 151643], \"pad_token_id\": 151643, \"transformers_version\": \"4.37.0\"}", Source);
        Assert.That(g.DoSample, Is.True);
        Assert.That(g.IsGreedy, Is.False);
        Assert.That(g.Temperature, Is.EqualTo(0.7));
        Assert.That(g.TopK, Is.EqualTo(20));
        Assert.That(g.TopP, Is.EqualTo(0.8));
        Assert.That(g.MinP, Is.EqualTo(0.05));
        Assert.That(g.RepetitionPenalty, Is.EqualTo(1.05));
        Assert.That(g.MaxNewTokens, Is.EqualTo(512));
        Assert.That(g.MaxLength, Is.EqualTo(4096));
        Assert.That(g.BosTokenId, Is.EqualTo(151643));
        Assert.That(g.EosTokenIds, Is.EqualTo(new[] { 151645, 151643 }));
    }

    [Test]
    public void WithoutDoSampleDecodingIsGreedyWhateverTheTemperature()
    {
        var g = GenerationConfigLoader.Parse("{\"temperature\": 0.6, \"top_p\": 0.9}", Source);
        Assert.That(g.DoSample, Is.Null);
        Assert.That(g.IsGreedy, Is.True);
        Assert.That(g.TopK, Is.Null, "absent values stay absent");
        Assert.That(GenerationConfigLoader.Parse("{\"do_sample\": false, \"temperature\": 0.6}", Source).IsGreedy, Is.True);
    }

    [Test]
    public void EosSetIsTheUnionOfBothFiles()
    {
        var g = GenerationConfigLoader.Parse("{\"eos_token_id\": [128001, 128008, 128009]}", Source);
        var united = GenerationConfigLoader.UniteWith(g, Model(128000, 128009, 128256));
        Assert.That(united.EosTokenIds, Is.EqualTo(new[] { 128001, 128008, 128009, 128256 }));
        Assert.That(united.BosTokenId, Is.EqualTo(128000), "BOS from config.json when generation_config.json has none");

        var single = GenerationConfigLoader.UniteWith(GenerationConfigLoader.Parse("{\"eos_token_id\": 5, \"bos_token_id\": 4}", Source), Model(1, 2));
        Assert.That(single.EosTokenIds, Is.EqualTo(new[] { 5, 2 }));
        Assert.That(single.BosTokenId, Is.EqualTo(4));
    }

    [Test]
    public void LoadWithoutTheFileUsesConfigJson()
    {
        using var temp = new TempFolder();
        var g = GenerationConfigLoader.Load(temp.Path, Model(1, 2, 3));
        Assert.That(g.EosTokenIds, Is.EqualTo(new[] { 2, 3 }));
        Assert.That(g.BosTokenId, Is.EqualTo(1));
        Assert.That(g.IsGreedy, Is.True);
    }

    [Test]
    public void LoadReadsTheFile()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File(GenerationConfigLoader.FileName), "{\"do_sample\": true, \"eos_token_id\": 9}");
        var g = GenerationConfigLoader.Load(temp.Path, Model(1, 2));
        Assert.That(g.DoSample, Is.True);
        Assert.That(g.EosTokenIds, Is.EqualTo(new[] { 9, 2 }));
    }

    [Test]
    public void RealGenerationConfig()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var g = GenerationConfigLoader.Load(folder, ModelConfigLoader.Load(folder));
        Assert.That(g.EosTokenIds, Is.EqualTo(new[] { 2 }));
        Assert.That(g.BosTokenId, Is.EqualTo(1));
    }

    [TestCase("{\"temperature\": -0.5}", "\"temperature\" must not be negative")]
    [TestCase("{\"top_p\": 1.5}", "\"top_p\" must be in (0, 1]")]
    [TestCase("{\"top_p\": 0}", "\"top_p\" must be in (0, 1]")]
    [TestCase("{\"min_p\": -0.1}", "\"min_p\" must be in [0, 1]")]
    [TestCase("{\"top_k\": -1}", "\"top_k\" must not be negative")]
    [TestCase("{\"repetition_penalty\": 0}", "\"repetition_penalty\" must be positive")]
    [TestCase("{\"max_new_tokens\": 0}", "\"max_new_tokens\" must be positive")]
    [TestCase("{\"do_sample\": \"yes\"}", "\"do_sample\" must be true or false")]
    [TestCase("{\"eos_token_id\": [1, \"x\"]}", "\"eos_token_id\" must be an integer or a list of integers")]
    [TestCase("{\"temperature\": ", "not valid JSON")]
    public void BadValues(string json, string message)
    {
        var e = Assert.Throws<EngineException>(() => GenerationConfigLoader.Parse(json, Source));
        Assert.That(e!.Message, Does.StartWith(Source + ": ").And.Contain(message));
    }
}
