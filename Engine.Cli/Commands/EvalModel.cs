using Engine.Core;
using Engine.Core.Config;
using Engine.Core.Hub;
using Engine.Core.Text;
using Engine.Kernels;
using Engine.Models;

namespace Engine.Cli.Commands;

/// <summary>
/// What both `engine eval` subcommands load: the model's folder, config and tokenizer first (to size
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
        if (!File.Exists(Path.Combine(folder, "tokenizer.json")))
            throw new EngineException($"{model} has no tokenizer.json: eval needs the model's tokenizer");
        return new EvalModel(folder, config, TextTokenizer.Load(folder));
    }

    /// <summary>Loads the engine with room for <paramref name="sequences"/> sequences of <paramref name="tokens"/> tokens each.</summary>
    public InferenceEngine Load(string device, int tokens, int sequences)
    {
        const int pageSize = 16;
        long pagesPerSequence = (long)((tokens + pageSize - 1) / pageSize + 1) * Config.NumLayers;
        long bytes = KvPool.BytesPerPageFor(Config.NumKvHeads, pageSize, Config.HeadDim, Config.DType) * pagesPerSequence * sequences;
        return InferenceEngine.Load(Folder, new EngineOptions
        {
            Device = device, PageSize = pageSize, KvMemoryBytes = bytes, ContextLimit = Math.Min(ContextLimit, tokens),
        });
    }
}
