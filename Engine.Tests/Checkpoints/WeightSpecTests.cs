using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints;

public class WeightSpecTests
{
    private TempFolder _temp = null!;

    [SetUp] public void SetUp() => _temp = new TempFolder();
    [TearDown] public void TearDown() => _temp.Dispose();

    private static ModelConfig Tiny(ModelArchitecture arch = ModelArchitecture.Llama, bool tied = true, bool attentionBias = false, bool mlpBias = false) => new()
    {
        Architecture = arch, HiddenSize = 16, IntermediateSize = 24, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, HeadDim = 6,
        VocabSize = 10, MaxPositionEmbeddings = 64, RmsNormEps = 1e-5, RopeTheta = 10000, TieWordEmbeddings = tied,
        QkvBias = arch == ModelArchitecture.Qwen2 || attentionBias, OutputProjBias = attentionBias, MlpBias = mlpBias,
    };

    /// <summary>A checkpoint holding every expected tensor with random values, except <paramref name="skip"/>, with <paramref name="reshape"/> overrides.</summary>
    private ICheckpoint Write(ModelConfig config, string? skip = null, (string Name, long[] Shape)? reshape = null, bool extraLmHead = false)
    {
        var writer = new SafetensorsWriter();
        int seed = 0;
        var tensors = WeightSpec.For(config).ToList();
        if (extraLmHead) tensors.Add(new ExpectedTensor(TensorNames.LmHead, [config.VocabSize, config.HiddenSize]));
        foreach (var t in tensors)
        {
            if (t.Name == skip) continue;
            long[] shape = reshape is { } r && r.Name == t.Name ? r.Shape : t.Shape;
            long count = shape.Aggregate(1L, (a, b) => a * b);
            writer.Add(t.Name, shape, SafetensorsWriter.RandomValues((int)count, ++seed), DType.BF16);
        }
        writer.Save(_temp.File("model.safetensors"));
        return Checkpoint.Open(_temp.Path);
    }

    [Test]
    public void LlamaTensorsAndShapes()
    {
        var spec = WeightSpec.For(Tiny()).ToDictionary(t => t.Name, t => t.Shape);
        Assert.That(spec, Has.Count.EqualTo(1 + 2 * 9 + 1), "embedding, 9 per layer, final norm; no lm_head when tied");
        Assert.That(spec[TensorNames.Embedding], Is.EqualTo(new long[] { 10, 16 }));
        Assert.That(spec[TensorNames.Weight(TensorNames.QProj(1))], Is.EqualTo(new long[] { 24, 16 }));
        Assert.That(spec[TensorNames.Weight(TensorNames.KProj(1))], Is.EqualTo(new long[] { 12, 16 }));
        Assert.That(spec[TensorNames.Weight(TensorNames.OProj(0))], Is.EqualTo(new long[] { 16, 24 }));
        Assert.That(spec[TensorNames.Weight(TensorNames.DownProj(0))], Is.EqualTo(new long[] { 16, 24 }));
        Assert.That(spec[TensorNames.InputNorm(1)], Is.EqualTo(new long[] { 16 }));
        Assert.That(spec.ContainsKey(TensorNames.LmHead), Is.False);
    }

    [Test]
    public void Qwen2HasQkvBiasesAndUntiedHasLmHead()
    {
        var spec = WeightSpec.For(Tiny(ModelArchitecture.Qwen2, tied: false)).ToDictionary(t => t.Name, t => t.Shape);
        Assert.That(spec[TensorNames.Bias(TensorNames.QProj(0))], Is.EqualTo(new long[] { 24 }));
        Assert.That(spec[TensorNames.Bias(TensorNames.VProj(1))], Is.EqualTo(new long[] { 12 }));
        Assert.That(spec.ContainsKey(TensorNames.Bias(TensorNames.OProj(0))), Is.False);
        Assert.That(spec.ContainsKey(TensorNames.Bias(TensorNames.UpProj(0))), Is.False);
        Assert.That(spec[TensorNames.LmHead], Is.EqualTo(new long[] { 10, 16 }));
    }

    [Test]
    public void LlamaAttentionAndMlpBiases()
    {
        var names = WeightSpec.For(Tiny(attentionBias: true, mlpBias: true)).Select(t => t.Name).ToHashSet();
        Assert.That(names, Does.Contain(TensorNames.Bias(TensorNames.OProj(1))));
        Assert.That(names, Does.Contain(TensorNames.Bias(TensorNames.KProj(1))));
        Assert.That(names, Does.Contain(TensorNames.Bias(TensorNames.DownProj(1))));
    }

    [Test]
    public void ParameterCountAndWeightBytes()
    {
        var config = Tiny(ModelArchitecture.Qwen2, tied: false);
        // Counted by hand: embedding and lm_head 10x16 each, final norm 16; per layer two norms (32), q 24x16+24,
        // k and v 12x16+12 each, o 16x24, gate and up 24x16 each, down 16x24.
        long perLayer = 32 + (384 + 24) + 2 * (192 + 12) + 384 + 3 * 384;
        long expected = 160 + 160 + 16 + 2 * perLayer;
        Assert.That(WeightSpec.ParameterCount(config), Is.EqualTo(expected));
        using var checkpoint = Write(config);
        Assert.That(WeightSpec.WeightBytes(config, checkpoint), Is.EqualTo(expected * 2), "bf16");
    }

    [Test]
    public void MatchingCheckpointPasses()
    {
        var config = Tiny();
        using var checkpoint = Write(config, extraLmHead: true);
        Assert.DoesNotThrow(() => WeightSpec.Check(config, checkpoint), "a tied model's lm_head is ignored");
    }

    [Test]
    public void MissingTensorIsNamed()
    {
        var config = Tiny();
        string missing = TensorNames.Weight(TensorNames.UpProj(1));
        using var checkpoint = Write(config, skip: missing);
        var e = Assert.Throws<EngineException>(() => WeightSpec.Check(config, checkpoint));
        Assert.That(e!.Message, Is.EqualTo($"checkpoint does not match config.json: tensor '{missing}' is missing; expected shape [24, 16]"));
    }

    [Test]
    public void UntiedModelWithoutLmHead()
    {
        var config = Tiny(tied: false);
        using var checkpoint = Write(config, skip: TensorNames.LmHead);
        var e = Assert.Throws<EngineException>(() => WeightSpec.Check(config, checkpoint));
        Assert.That(e!.Message, Does.Contain("tensor 'lm_head.weight' is missing (tie_word_embeddings is false"));
    }

    [Test]
    public void WrongShapeIsNamedWithBothShapes()
    {
        var config = Tiny();
        string name = TensorNames.Weight(TensorNames.KProj(0));
        using var checkpoint = Write(config, reshape: (name, [16, 12]));
        var e = Assert.Throws<EngineException>(() => WeightSpec.Check(config, checkpoint));
        Assert.That(e!.Message, Does.Contain($"tensor '{name}' in ").And.EndWith("has shape [16, 12], expected [12, 16]"));
    }

    [Test]
    public void RealCheckpointsMatchTheirConfigs()
    {
        foreach (string model in new[] { "stories260K", "llama-tiny", "llama-tiny-f32" })
        {
            string folder = SharedAssets.Require("models", model);
            var config = ModelConfigLoader.Load(folder);
            using var checkpoint = Checkpoint.Open(folder);
            Assert.DoesNotThrow(() => WeightSpec.Check(config, checkpoint), model);
            Assert.That(WeightSpec.For(config).Count, Is.EqualTo(checkpoint.TensorNames.Count), model);
        }
    }
}
