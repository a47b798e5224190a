using System.CommandLine;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Core.Hub;
using Engine.Core.Text;
using Engine.Core.Text.Templates;
using Engine.Kernels;
using Engine.Models;

namespace Engine.Cli.Options;

/// <summary>
/// The flags of an engine over random weights of a model's shape, shared by `engine bench` and `engine serve`:
/// --random-weights, --dtype, --quantize. Only the config is needed (models.json, a folder's config.json
/// or the hub cache), so a model can be measured at its real size without downloading it.
/// </summary>
public sealed class RandomWeightsOptions
{
    public Option<bool> RandomWeights { get; } = new("--random-weights") { Description = "Random weights of the model's shape (needs only its config: models.json or config.json)" };
    public Option<string?> DType { get; } = new("--dtype") { Description = "Weight dtype of --random-weights: bf16, f16 or f32 (default: the model's)" };
    public Option<string?> Quantize { get; } = new("--quantize") { Description = "Quantize the --random-weights matrices at load: q8_0" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { RandomWeights, DType, Quantize })
            command.Options.Add(option);
    }

    /// <summary>The random-weights settings, or null without --random-weights (then --dtype and --quantize are errors).</summary>
    public RandomWeightsSpec? Read(ParseResult parsed)
    {
        string? dtypeText = parsed.GetValue(DType);
        DType? quantize = parsed.GetValue(Quantize) is string q ? QuantizedCheckpoint.ParseType(q) : null;
        if (!parsed.GetValue(RandomWeights))
        {
            if (quantize is not null) throw new EngineException("--quantize needs --random-weights (GGUF files are loaded as they are)");
            if (dtypeText is not null) throw new EngineException("--dtype applies to --random-weights; a checkpoint's weights keep the dtype they are stored in");
            return null;
        }
        Core.DType? dtype = dtypeText is null ? null
            : DTypes.TryParse(dtypeText, out var parsedType) && parsedType != Core.DType.I32 ? parsedType
            : throw new EngineException($"--dtype '{dtypeText}' is not one of bf16, f16, f32");
        return new RandomWeightsSpec(dtype, quantize);
    }
}

/// <summary>What --random-weights, --dtype and --quantize asked for.</summary>
public sealed record RandomWeightsSpec(DType? DType, DType? Quantize)
{
    /// <summary>The shape of a random-weights model: the config from a local folder, else models.json, else the hub cache.</summary>
    public static ModelConfig Config(string model) =>
        Directory.Exists(model)
            ? ModelConfigLoader.Load(model)
            : ModelRegistry.Default.Find(model)?.Config ?? ModelConfigLoader.Load(ModelLocator.ResolveFolder(model));

    /// <summary>
    /// An engine over random weights of <paramref name="config"/>'s shape (in --dtype, quantized with --quantize),
    /// with the tokenizer and chat template of <paramref name="textFolder"/> when one is given (else token ids only).
    /// </summary>
    public InferenceEngine Load(string model, ModelConfig config, EngineOptions options, string? textFolder = null)
    {
        config = config with { DType = DType ?? config.DType };
        var tokenizer = textFolder is null ? null : TextTokenizer.Load(textFolder);
        if (tokenizer is not null && tokenizer.VocabSize > config.VocabSize)
            throw new EngineException($"the tokenizer in {textFolder} has {tokenizer.VocabSize} tokens, more than the {config.VocabSize} of {model}'s vocabulary");
        var template = textFolder is null ? null : ChatTemplate.Load(textFolder);
        var backend = BackendFactory.Create(options.Device, options.Threads, options.Kernels);
        try
        {
            using var random = new RandomCheckpoint(config, config.DType);
            using var checkpoint = Quantize is DType q ? new QuantizedCheckpoint(random, q) : (ICheckpoint)random;
            return InferenceEngine.Create(model, backend, checkpoint, config, options: options, tokenizer: tokenizer, chatTemplate: template, ownsBackend: true);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }
}
