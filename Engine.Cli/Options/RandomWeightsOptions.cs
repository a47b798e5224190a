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
/// --random-weights and --dtype (--quantize, an engine option, applies to them too). Only the config is needed (models.json, a folder's config.json
/// or the hub cache), so a model can be measured at its real size without downloading it.
/// </summary>
public sealed class RandomWeightsOptions
{
    public Option<bool> RandomWeights { get; } = new("--random-weights") { Description = "Random weights of the model's shape (needs only its config: models.json or config.json)" };
    public Option<string?> DType { get; } = new("--dtype") { Description = "Weight dtype of --random-weights: bf16, f16 or f32 (default: the model's)" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { RandomWeights, DType })
            command.Options.Add(option);
    }

    /// <summary>The random-weights settings, or null without --random-weights (then --dtype is an error).</summary>
    public RandomWeightsSpec? Read(ParseResult parsed)
    {
        string? dtypeText = parsed.GetValue(DType);
        if (!parsed.GetValue(RandomWeights))
        {
            if (dtypeText is not null) throw new EngineException("--dtype applies to --random-weights; a checkpoint's weights keep the dtype they are stored in");
            return null;
        }
        Core.DType? dtype = dtypeText is null ? null
            : DTypes.TryParse(dtypeText, out var parsedType) && parsedType != Core.DType.I32 ? parsedType
            : throw new EngineException($"--dtype '{dtypeText}' is not one of bf16, f16, f32");
        return new RandomWeightsSpec(dtype);
    }
}

/// <summary>What --random-weights and --dtype asked for.</summary>
public sealed record RandomWeightsSpec(DType? DType)
{
    /// <summary>The shape of a random-weights model: the config from a local folder, else models.json, else the hub cache.</summary>
    public static ModelConfig Config(string model) =>
        Directory.Exists(model)
            ? ModelConfigLoader.Load(model)
            : ModelRegistry.Default.Find(model)?.Config ?? ModelConfigLoader.Load(ModelLocator.ResolveFolder(model));

    /// <summary>
    /// An engine over random weights of <paramref name="config"/>'s shape (in --dtype, quantized as options.Quantize says),
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
            using var checkpoint = options.Quantize is DType q ? new QuantizedCheckpoint(random, q) : (ICheckpoint)random;
            return InferenceEngine.Create(model, backend, checkpoint, config, options: options, tokenizer: tokenizer, chatTemplate: template, ownsBackend: true);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }
}
