using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Config;

/// <summary>
/// What a model folder holds, read and validated without touching a device: its config, generation
/// defaults, parameter count and weight sizes, KV cache cost per token and files. Backs <c>engine info</c>.
/// </summary>
public sealed record ModelInfo
{
    public required string Folder { get; init; }
    public required ModelConfig Config { get; init; }
    public required GenerationDefaults Generation { get; init; }
    public required long ParameterCount { get; init; }
    /// <summary>Bytes of the weights the model uses, at the dtypes stored in the checkpoint.</summary>
    public required long WeightBytes { get; init; }
    /// <summary>The distinct dtypes the checkpoint stores the model's weights in.</summary>
    public required IReadOnlyList<DType> WeightDTypes { get; init; }
    public required IReadOnlyList<ModelFile> Files { get; init; }
    /// <summary>Per stored tensor type (safetensors dtype or GGUF type, e.g. "BF16", "Q4_K"): how many of the model's tensors use it and their bytes.</summary>
    public required IReadOnlyList<TensorTypeCount> TensorTypes { get; init; }

    /// <summary>K and V for one token across all layers: 2 x layers x kvHeads x headDim x dtype size.</summary>
    public long KvBytesPerToken(DType kvDType) => 2L * Config.NumLayers * Config.NumKvHeads * Config.HeadDim * DTypes.SizeOf(kvDType);

    /// <summary>Reads config.json, generation_config.json and the checkpoint of <paramref name="folder"/>, checking the weights against the config.</summary>
    public static ModelInfo Inspect(string folder)
    {
        folder = Path.GetFullPath(folder);
        var config = ModelConfigLoader.Load(folder);
        var generation = GenerationConfigLoader.Load(folder, config);
        using var checkpoint = Checkpoint.Open(folder);
        WeightSpec.Check(config, checkpoint);
        var expected = WeightSpec.For(config);
        var gguf = checkpoint as GgufCheckpoint;
        // A GGUF file counts every tensor of its table, as llama.cpp's loader lists them (rope_freqs included).
        var stored = gguf is not null
            ? gguf.File.Tensors.Select(t => (Type: GgmlTypes.Name(t.Type), Bytes: t.ByteLength)).ToList()
            : expected.Select(t => checkpoint.Get(t.Name)).Select(v => (Type: DTypes.SafetensorsName(v.DType), Bytes: v.ByteLength)).ToList();
        return new ModelInfo
        {
            Folder = folder,
            Config = config,
            Generation = generation,
            ParameterCount = WeightSpec.ParameterCount(config),
            WeightBytes = stored.Sum(s => s.Bytes),
            WeightDTypes = gguf is null ? expected.Select(t => checkpoint.Get(t.Name).DType).Distinct().Order().ToList() : [],
            Files = ListFiles(folder),
            TensorTypes = stored.GroupBy(s => s.Type).OrderByDescending(g => g.Sum(s => s.Bytes))
                .Select(g => new TensorTypeCount(g.Key, g.Count(), g.Sum(s => s.Bytes))).ToList(),
        };
    }

    private static List<ModelFile> ListFiles(string folder) =>
        (File.Exists(folder) ? [new FileInfo(folder)] : new DirectoryInfo(folder).EnumerateFiles())
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .Select(f => new ModelFile(f.Name, (f.LinkTarget is null ? f : f.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? f).Length))
            .ToList();
}

/// <summary>How many of a model's tensors are stored in one type, and their bytes.</summary>
public sealed record TensorTypeCount(string Type, int Count, long Bytes);
