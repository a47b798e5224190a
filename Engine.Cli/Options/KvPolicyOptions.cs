using System.CommandLine;
using System.Globalization;
using Engine.Core;
using Engine.Core.Hub;
using Engine.Core.Kv.LagKv;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Cli.Options;

/// <summary>The KV-cache policy a command line chose: its name, the LagKV options behind it, and the policy (null: full cache).</summary>
public sealed record KvPolicyChoice(string Name, LagKvOptions? LagKv, IKvCachePolicy? Policy);

/// <summary>The KV-cache flags read and checked: a known policy name and, with --lagkv, its options.</summary>
public sealed record KvPolicySettings(string Name, LagKvOptions? LagKv)
{
    /// <summary>Builds the policy for a model with <paramref name="layerCount"/> layers (the options are validated against it).</summary>
    public KvPolicyChoice Create(int layerCount) =>
        LagKv is null || Name == "full" ? new KvPolicyChoice(Name, LagKv, null) : new KvPolicyChoice(Name, LagKv, KvPolicyFactory.Create(Name, LagKv, layerCount));

    /// <summary>
    /// A one-line warning when nothing can be compressed within <paramref name="tokens"/> tokens (fewer
    /// than S + 2L), with a lag size that would; null when the settings can compress.
    /// </summary>
    public string? CompressionWarning(int tokens, string what)
    {
        if (LagKv is not { } o || Name == "full" || tokens >= o.FirstCompressionLength) return null;
        int suggested = 1 << (int)Math.Log2(Math.Max(2, (tokens - o.SinkSize) / 4));
        string hint = suggested >= 2 && o.SinkSize + 2 * suggested <= tokens ? $"; try --lag-size {suggested}" : "; lower --lag-size or --sink-size";
        return $"warning: --lagkv compresses nothing within {what} of {tokens} tokens: the first partition is compressed at S + 2L = {o.SinkSize} + 2 x {o.LagSize} = {o.FirstCompressionLength} tokens{hint}";
    }
}

/// <summary>
/// The KV-cache flags shared by `engine run` and `engine bench`: --lagkv, --lag-size, --sink-size,
/// --lagkv-skip-layers, --lagkv-mode, --kv-policy; and `--prefill-chunk auto` (S + 2L, then L). The flags
/// are parsed here, once; without --lag-size/--sink-size a registry model uses its recommended L and S.
/// </summary>
public sealed class KvPolicyOptions
{
    public Option<string?> LagKv { get; } = new("--lagkv") { Description = "LagKV KV-cache compression: Nx keeps 1/N of each partition (N 2..32), r=F keeps the fraction F" };
    public Option<int?> LagSize { get; } = new("--lag-size") { Description = $"LagKV partition (lag) size L (default: the registry's recommendation for the model, else {LagKvOptions.DefaultLagSize})" };
    public Option<int?> SinkSize { get; } = new("--sink-size") { Description = $"LagKV sink: first S tokens never evicted (default: the registry's recommendation, else {LagKvOptions.DefaultSinkSize})" };
    public Option<string?> SkipLayers { get; } = new("--lagkv-skip-layers") { Description = "Layers that keep a full cache, e.g. 0,1,30-31" };
    public Option<string?> Mode { get; } = new("--lagkv-mode") { Description = "reference (compress every partition, prefill and decode) or press (once after the prompt, kvpress semantics)" };
    public Option<string?> Policy { get; } = new("--kv-policy") { Description = $"{KvPolicyFactory.Choices} (default: lagkv when --lagkv is given, else full)" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { LagKv, LagSize, SinkSize, SkipLayers, Mode, Policy })
            command.Options.Add(option);
    }

    /// <summary>
    /// Reads the flags: the policy name (checked against the known ones) and the LagKV options (null
    /// without --lagkv). <paramref name="recommended"/> gives L and S when the flags do not.
    /// </summary>
    public KvPolicySettings Read(ParseResult parsed, LagKvRecommendation? recommended = null)
    {
        LagKvOptions? options = ReadLagKv(parsed, recommended);
        string name = (parsed.GetValue(Policy) ?? (options is null ? "full" : "lagkv")).Trim().ToLowerInvariant();
        if (!KvPolicyFactory.Names.Contains(name))
            throw new EngineException($"--kv-policy: unknown policy '{parsed.GetValue(Policy)}'; the policies are {string.Join(", ", KvPolicyFactory.Names)}");
        if (name != "full" && options is null) throw new EngineException($"--kv-policy {name} needs a budget: give --lagkv (e.g. --lagkv 4x)");
        // Checked before any model is loaded; skip-layer indices once its layer count is known (Create).
        options?.Validate(layerCount: int.MaxValue);
        return new KvPolicySettings(name, options);
    }

    /// <summary>The registry's LagKV recommendation for a --model argument naming a registry model (by name or repo id), else null.</summary>
    public static LagKvRecommendation? RecommendationFor(string model)
    {
        if (Directory.Exists(model) || File.Exists(model)) return null;
        string name = model.Split('@')[0];
        var registry = ModelRegistry.Default;
        return (registry.Find(name) ?? registry.FindByRepo(name))?.LagKv;
    }

    private LagKvOptions? ReadLagKv(ParseResult parsed, LagKvRecommendation? recommended)
    {
        string? ratio = parsed.GetValue(LagKv);
        if (ratio is null)
        {
            foreach (Option o in new Option[] { LagSize, SinkSize, SkipLayers, Mode })
                if (parsed.GetResult(o) is not null) throw new EngineException($"{o.Name} needs --lagkv (e.g. --lagkv 4x)");
            return null;
        }
        string? mode = parsed.GetValue(Mode);
        return new LagKvOptions
        {
            Retention = LagKvText.ParseRetention(ratio),
            LagSize = parsed.GetValue(LagSize) ?? recommended?.LagSize ?? LagKvOptions.DefaultLagSize,
            SinkSize = parsed.GetValue(SinkSize) ?? recommended?.SinkSize ?? LagKvOptions.DefaultSinkSize,
            SkipLayers = LagKvText.ParseSkipLayers(parsed.GetValue(SkipLayers)),
            Mode = mode is null ? LagKvMode.Reference : LagKvText.ParseMode(mode),
        };
    }

    /// <summary>The flags as a request-level spec (for requests that override some of them, e.g. `run --batch` lines).</summary>
    public KvPolicySpec Spec(ParseResult parsed) => new(parsed.GetValue(Policy), parsed.GetValue(LagKv), parsed.GetValue(LagSize),
        parsed.GetValue(SinkSize), parsed.GetValue(Mode), parsed.GetValue(SkipLayers));

    /// <summary>`--prefill-chunk`: a chunk size (0: the whole prompt) or `auto` (with LagKV: S + 2L, then L; without: the default).</summary>
    public static PrefillSchedule ParsePrefillChunk(string? text, LagKvOptions? options) =>
        text is null ? PrefillSchedule.Default : LagKvPrefill.Parse(text, options, "--prefill-chunk");
}
