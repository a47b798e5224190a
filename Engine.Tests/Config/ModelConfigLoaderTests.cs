using Engine.Core;
using Engine.Core.Config;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Config;

public class ModelConfigLoaderTests
{
    private const string Source = "test/config.json";

    /// <summary>A minimal Llama config.json with <paramref name="extra"/> JSON members appended.</summary>
    private static string Llama(string extra = "") =>
        "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 160,"
        + " \"num_hidden_layers\": 3, \"num_attention_heads\": 8, \"vocab_size\": 100" + extra + "}";

    private static ModelConfig Parse(string json) => ModelConfigLoader.Parse(json, Source);

    private static string ErrorOf(string json)
    {
        var e = Assert.Throws<EngineException>(() => Parse(json));
        Assert.That(e!.Message, Does.StartWith(Source), "names the file");
        Assert.That(e.Message, Does.Not.Contain("\n"));
        return e.Message;
    }

    [Test]
    public void LlamaDefaultsFollowTransformers()
    {
        var c = Parse(Llama());
        Assert.That(c.Architecture, Is.EqualTo(ModelArchitecture.Llama));
        Assert.That(c.NumKvHeads, Is.EqualTo(8), "num_key_value_heads defaults to the query heads");
        Assert.That(c.HeadDim, Is.EqualTo(8), "head_dim defaults to hidden / heads");
        Assert.That(c.MaxPositionEmbeddings, Is.EqualTo(2048));
        Assert.That(c.RmsNormEps, Is.EqualTo(1e-6));
        Assert.That(c.RopeTheta, Is.EqualTo(10000.0));
        Assert.That(c.RopeScaling.Type, Is.EqualTo(RopeScalingType.None));
        Assert.That(c.TieWordEmbeddings, Is.False);
        Assert.That(c.QkvBias || c.OutputProjBias || c.MlpBias, Is.False);
        Assert.That(c.DType, Is.EqualTo(DType.F32), "no torch_dtype: transformers loads float32");
        Assert.That(c.EosTokenIds, Is.Empty);
        Assert.That(c.BosTokenId, Is.Null);
    }

    [Test]
    public void LlamaFullConfig()
    {
        var c = Parse(Llama(", \"num_key_value_heads\": 2, \"head_dim\": 16, \"max_position_embeddings\": 4096, \"rms_norm_eps\": 1e-05,"
            + " \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, \"attention_bias\": true, \"mlp_bias\": true,"
            + " \"torch_dtype\": \"bfloat16\", \"bos_token_id\": 1, \"eos_token_id\": [2, 7], \"hidden_act\": \"silu\""));
        Assert.That(c.NumKvHeads, Is.EqualTo(2));
        Assert.That(c.HeadDim, Is.EqualTo(16), "explicit head_dim wins over hidden / heads");
        Assert.That(c.QueryDim, Is.EqualTo(128));
        Assert.That(c.KvDim, Is.EqualTo(32));
        Assert.That(c.MaxPositionEmbeddings, Is.EqualTo(4096));
        Assert.That(c.RmsNormEps, Is.EqualTo(1e-5));
        Assert.That(c.RopeTheta, Is.EqualTo(500000.0));
        Assert.That(c.TieWordEmbeddings, Is.True);
        Assert.That(c.QkvBias && c.OutputProjBias && c.MlpBias, Is.True);
        Assert.That(c.DType, Is.EqualTo(DType.BF16));
        Assert.That(c.BosTokenId, Is.EqualTo(1));
        Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 2, 7 }));
    }

    [Test]
    public void Qwen2HasQkvBiasOnlyAndItsOwnDefaults()
    {
        var c = Parse("{\"architectures\": [\"Qwen2ForCausalLM\"], \"model_type\": \"qwen2\", \"hidden_size\": 896, \"intermediate_size\": 4864,"
            + " \"num_hidden_layers\": 24, \"num_attention_heads\": 14, \"num_key_value_heads\": 2, \"vocab_size\": 151936,"
            + " \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\", \"use_sliding_window\": false,"
            + " \"sliding_window\": 32768, \"max_window_layers\": 21, \"attention_bias\": false, \"eos_token_id\": 151643, \"bos_token_id\": 151643}");
        Assert.That(c.Architecture, Is.EqualTo(ModelArchitecture.Qwen2));
        Assert.That(c.HeadDim, Is.EqualTo(64));
        Assert.That(c.NumKvHeads, Is.EqualTo(2));
        Assert.That(c.QkvBias, Is.True, "Qwen2 always has q/k/v biases");
        Assert.That(c.OutputProjBias, Is.False);
        Assert.That(c.MlpBias, Is.False);
        Assert.That(c.MaxPositionEmbeddings, Is.EqualTo(32768));
        Assert.That(c.EosTokenIds, Is.EqualTo(new[] { 151643 }));
    }

    [Test]
    public void ModelTypeAloneIdentifiesTheArchitecture()
    {
        string json = Llama().Replace("\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\"", "\"model_type\": \"qwen2\"");
        Assert.That(Parse(json).Architecture, Is.EqualTo(ModelArchitecture.Qwen2));
    }

    [Test]
    public void UnknownArchitectureListsTheSupportedOnes()
    {
        string json = Llama().Replace("LlamaForCausalLM", "MistralForCausalLM").Replace("\"llama\"", "\"mistral\"");
        Assert.That(ErrorOf(json), Does.Contain("unsupported architecture (MistralForCausalLM); supported: LlamaForCausalLM (llama), Qwen2ForCausalLM (qwen2)"));
    }

    [Test]
    public void NoArchitectureAtAll()
    {
        string json = Llama().Replace("\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\",", "");
        Assert.That(ErrorOf(json), Does.Contain("unsupported architecture (none declared)"));
    }

    [TestCase("rope_type")]
    [TestCase("type")]
    public void Llama3RopeScaling(string typeKey)
    {
        var c = Parse(Llama($", \"rope_theta\": 500000.0, \"rope_scaling\": {{\"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0,"
            + $" \"original_max_position_embeddings\": 8192, \"{typeKey}\": \"llama3\"}}"));
        Assert.That(c.RopeScaling, Is.EqualTo(new RopeScaling(RopeScalingType.Llama3, 8.0, 1.0, 4.0, 8192)));
        Assert.That(c.RopeTheta, Is.EqualTo(500000.0));
    }

    [Test]
    public void LinearRopeScaling()
    {
        var c = Parse(Llama(", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}"));
        Assert.That(c.RopeScaling.Type, Is.EqualTo(RopeScalingType.Linear));
        Assert.That(c.RopeScaling.Factor, Is.EqualTo(2.0));
    }

    [Test]
    public void DefaultRopeTypeAndNullScalingMeanNone()
    {
        Assert.That(Parse(Llama(", \"rope_scaling\": {\"rope_type\": \"default\"}")).RopeScaling.Type, Is.EqualTo(RopeScalingType.None));
        Assert.That(Parse(Llama(", \"rope_scaling\": null")).RopeScaling.Type, Is.EqualTo(RopeScalingType.None));
    }

    [Test]
    public void Transformers5RopeParameters()
    {
        var c = Parse(Llama(", \"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 32.0,"
            + " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}, \"dtype\": \"float16\""));
        Assert.That(c.RopeTheta, Is.EqualTo(500000.0));
        Assert.That(c.RopeScaling, Is.EqualTo(new RopeScaling(RopeScalingType.Llama3, 32.0, 1.0, 4.0, 8192)));
        Assert.That(c.DType, Is.EqualTo(DType.F16), "transformers 5 writes dtype");

        var plain = Parse(Llama(", \"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}"));
        Assert.That(plain.RopeTheta, Is.EqualTo(1000000.0));
        Assert.That(plain.RopeScaling.Type, Is.EqualTo(RopeScalingType.None));
    }

    [Test]
    public void PerLayerTypeRopeParametersAreRefused()
    {
        string json = Llama(", \"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1000000.0}}");
        Assert.That(ErrorOf(json), Does.Contain("per-layer-type rope parameters (\"full_attention\") are not supported"));
    }

    [TestCase("{\"rope_type\": \"yarn\", \"factor\": 4.0}", "rope scaling type \"yarn\" is not supported; supported: default, linear, llama3")]
    [TestCase("{\"type\": \"dynamic\", \"factor\": 4.0}", "rope scaling type \"dynamic\" is not supported")]
    [TestCase("{\"factor\": 4.0}", "no \"rope_type\" (or \"type\")")]
    [TestCase("{\"type\": \"linear\"}", "rope scaling needs \"factor\"")]
    [TestCase("{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0}", "needs \"original_max_position_embeddings\"")]
    [TestCase("{\"rope_type\": \"llama3\", \"factor\": 8.0, \"low_freq_factor\": 4.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}", "high_freq_factor 4 must exceed low_freq_factor 4")]
    [TestCase("{\"type\": \"linear\", \"factor\": -2}", "\"factor\" must be positive")]
    public void BadRopeScaling(string scaling, string message)
    {
        Assert.That(ErrorOf(Llama($", \"rope_scaling\": {scaling}")), Does.Contain(message));
    }

    [TestCase("\"hidden_size\": 64, ", "missing required key \"hidden_size\"")]
    [TestCase("\"vocab_size\": 100", "missing required key \"vocab_size\"")]
    public void MissingRequiredKey(string removed, string message)
    {
        string json = Llama().Replace(removed, "").Replace(", }", "}");
        Assert.That(ErrorOf(json), Does.Contain(message));
    }

    [TestCase(", \"num_key_value_heads\": 3", "num_attention_heads 8 is not a multiple of num_key_value_heads 3")]
    [TestCase(", \"num_key_value_heads\": 0", "\"num_key_value_heads\" must be positive, found 0")]
    [TestCase(", \"head_dim\": 7", "head_dim 7 must be even")]
    [TestCase(", \"rms_norm_eps\": 0", "\"rms_norm_eps\" must be positive")]
    [TestCase(", \"rope_theta\": -1", "\"rope_theta\" must be positive")]
    [TestCase(", \"max_position_embeddings\": 0", "\"max_position_embeddings\" must be positive")]
    [TestCase(", \"torch_dtype\": \"int8\"", "torch_dtype \"int8\" is not supported; supported: bfloat16, float16, float32")]
    [TestCase(", \"hidden_act\": \"gelu\"", "hidden_act \"gelu\" is not supported")]
    [TestCase(", \"eos_token_id\": \"two\"", "\"eos_token_id\" must be an integer or a list of integers")]
    [TestCase(", \"tie_word_embeddings\": 1", "\"tie_word_embeddings\" must be true or false")]
    public void NonsenseValues(string extra, string message)
    {
        Assert.That(ErrorOf(Llama(extra)), Does.Contain(message));
    }

    [TestCase("\"hidden_size\": 64", "\"hidden_size\": 0", "\"hidden_size\" must be positive, found 0")]
    [TestCase("\"num_hidden_layers\": 3", "\"num_hidden_layers\": 2.5", "\"num_hidden_layers\" must be an integer, found 2.5")]
    [TestCase("\"hidden_size\": 64", "\"hidden_size\": 60", "hidden_size 60 is not divisible by num_attention_heads 8")]
    public void NonsenseSizes(string original, string replacement, string message)
    {
        Assert.That(ErrorOf(Llama().Replace(original, replacement)), Does.Contain(message));
    }

    [Test]
    public void Qwen2SlidingWindowIsRefused()
    {
        string json = Llama(", \"use_sliding_window\": true").Replace("LlamaForCausalLM", "Qwen2ForCausalLM");
        Assert.That(ErrorOf(json), Does.Contain("use_sliding_window is true"));
    }

    [Test]
    public void NotJson()
    {
        Assert.That(ErrorOf("{\"hidden_size\": "), Does.Contain("not valid JSON"));
        Assert.That(ErrorOf("[]"), Does.Contain("not a JSON object"));
    }

    [Test]
    public void MissingFileNamesTheFolder()
    {
        using var temp = new TempFolder();
        var e = Assert.Throws<EngineException>(() => ModelConfigLoader.Load(temp.Path));
        Assert.That(e!.Message, Is.EqualTo($"no config.json in {temp.Path}"));
    }

    [Test]
    public void RealConfigs()
    {
        var stories = ModelConfigLoader.Load(SharedAssets.Require("models", "stories260K"));
        Assert.That(stories.Architecture, Is.EqualTo(ModelArchitecture.Llama));
        Assert.That((stories.HiddenSize, stories.NumLayers, stories.NumHeads, stories.NumKvHeads, stories.HeadDim, stories.VocabSize),
            Is.EqualTo((64, 5, 8, 4, 8, 512)));
        Assert.That(stories.TieWordEmbeddings, Is.True);
        Assert.That(stories.RopeScaling.Type, Is.EqualTo(RopeScalingType.None));

        var tiny = ModelConfigLoader.Load(SharedAssets.Require("models", "llama-tiny"));
        Assert.That(tiny.DType, Is.EqualTo(DType.BF16));
        Assert.That(tiny.RopeScaling, Is.EqualTo(new RopeScaling(RopeScalingType.Llama3, 8.0, 1.0, 4.0, 8192)));
        Assert.That(tiny.MaxPositionEmbeddings, Is.EqualTo(131072));
        Assert.That(tiny.EosTokenIds, Is.EqualTo(new[] { 2 }));
    }
}
