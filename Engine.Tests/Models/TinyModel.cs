using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Tests.Support;

namespace Engine.Tests.Models;

/// <summary>
/// A tiny random Llama/Qwen2 checkpoint written with <see cref="SafetensorsWriter"/> into a temp
/// folder (config built in code, weights seeded, never zero). Projections are scaled by 1/sqrt(fan-in)
/// so activations stay near 1 through the layers, as in a trained model.
/// </summary>
public sealed class TinyModel : IDisposable
{
    private readonly TempFolder _folder = new();

    public TinyModel(ModelConfig config, int seed = 1)
    {
        Config = config;
        var writer = new SafetensorsWriter();
        int s = seed * 1000;
        void Add(string name, long[] shape, double scale, double offset = 0)
        {
            int count = (int)shape.Aggregate(1L, (a, b) => a * b);
            var values = SafetensorsWriter.RandomValues(count, s++).Select(v => (float)(offset + v * scale)).ToArray();
            writer.Add(name, shape, values, config.DType);
        }
        foreach (var t in WeightSpec.For(config))
        {
            bool isNorm = t.Shape.Length == 1 && t.Name.EndsWith("norm.weight", StringComparison.Ordinal);
            bool isBias = t.Name.EndsWith(".bias", StringComparison.Ordinal);
            double fanIn = t.Shape.Length == 2 ? t.Shape[1] : 1;
            if (isNorm) Add(t.Name, t.Shape, 0.2, 1.0);
            else if (isBias) Add(t.Name, t.Shape, 0.2);
            else if (t.Name == TensorNames.Embedding) Add(t.Name, t.Shape, 1.0);
            else Add(t.Name, t.Shape, 1.5 / Math.Sqrt(fanIn));
        }
        writer.Save(_folder.File("model.safetensors"));
        Checkpoint = Engine.Core.Checkpoints.Checkpoint.Open(_folder.Path);
    }

    public ModelConfig Config { get; }
    public ICheckpoint Checkpoint { get; }
    public string Folder => _folder.Path;

    public static ModelConfig Llama(DType dtype = DType.F32, bool tied = false, RopeScaling? scaling = null, int vocab = 96) => new()
    {
        Architecture = ModelArchitecture.Llama,
        HiddenSize = 32,
        IntermediateSize = 48,
        NumLayers = 2,
        NumHeads = 4,
        NumKvHeads = 2,
        HeadDim = 8,
        VocabSize = vocab,
        MaxPositionEmbeddings = 512,
        RmsNormEps = 1e-5,
        RopeTheta = 10000,
        RopeScaling = scaling ?? new RopeScaling(RopeScalingType.None),
        TieWordEmbeddings = tied,
        DType = dtype,
        BosTokenId = 1,
        EosTokenIds = [2],
    };

    public static ModelConfig Qwen2(DType dtype = DType.F32, bool tied = true) => Llama(dtype, tied) with
    {
        Architecture = ModelArchitecture.Qwen2,
        QkvBias = true,
        NumHeads = 6,
        NumKvHeads = 2,
        HeadDim = 4,
        HiddenSize = 24,
        RopeTheta = 1_000_000,
    };

    /// <summary>A Llama with llama3 rope scaling whose frequencies fall in all three bands at head dim 8.</summary>
    public static ModelConfig LlamaWithLlama3Rope(DType dtype = DType.F32) =>
        Llama(dtype, tied: true, new RopeScaling(RopeScalingType.Llama3, Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64)) with { RopeTheta = 5000 };

    public void Dispose()
    {
        Checkpoint.Dispose();
        _folder.Dispose();
    }
}
