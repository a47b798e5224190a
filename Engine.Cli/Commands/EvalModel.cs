using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Core.Hub;
using Engine.Core.Text;
using Engine.Kernels;
using Engine.Models;

namespace Engine.Cli.Commands;

/// <summary>
/// What the `engine eval` subcommands load: the model's folder, config and tokenizer first (to size
/// the text), then the engine with a KV pool sized for <c>sequences</c> sequences of the tokens used.
/// </summary>
internal sealed class EvalModel
{
    private EvalModel(string folder, ModelConfig config, TextTokenizer tokenizer) { Folder = folder; Config = config; Tokenizer = tokenizer; }

    public string Folder { get; }
    public ModelConfig Config { get; }
    public TextTokenizer Tokenizer { get; }
    /// <summary>Most tokens a sequence may hold.</summary>
    public int ContextLimit => Config.MaxPositionEmbeddings;

    public static EvalModel Open(string model)
    {
        string folder = ModelLocator.ResolveFolder(model);
        var config = ModelConfigLoader.Load(folder);
        if (!TextTokenizer.ExistsIn(folder))
            throw new EngineException($"{model} has no tokenizer (tokenizer.json, tokenizer.model or a GGUF vocabulary): eval needs the model's tokenizer");
        return new EvalModel(folder, config, TextTokenizer.Load(folder));
    }

    /// <summary>
    /// Loads the engine with room for <paramref name="sequences"/> sequences of <paramref name="tokens"/> tokens each;
    /// with <paramref name="quantize"/>, its matrices quantized at load (as --quantize does).
    /// </summary>
    public InferenceEngine Load(string device, int tokens, int sequences, DType? quantize = null)
    {
        const int pageSize = 16;
        long pagesPerSequence = (long)((tokens + pageSize - 1) / pageSize + 1) * Config.NumLayers;
        long bytes = KvPool.BytesPerPageFor(Config.NumKvHeads, pageSize, Config.HeadDim, Config.DType) * pagesPerSequence * sequences;
        var options = new EngineOptions { Device = device, PageSize = pageSize, KvMemoryBytes = bytes, ContextLimit = Math.Min(ContextLimit, tokens) };
        if (quantize is not DType type) return InferenceEngine.Load(Folder, options);

        using var checkpoint = Checkpoint.Open(Folder);
        using var quantized = new QuantizedCheckpoint(checkpoint, type);
        WeightSpec.Check(Config, quantized);
        var backend = BackendFactory.Create(device);
        try
        {
            return InferenceEngine.Create($"{Folder} --quantize {DTypes.SafetensorsName(type).ToLowerInvariant()}", backend, quantized, Config,
                options: options, tokenizer: Tokenizer, ownsBackend: true);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }
}
