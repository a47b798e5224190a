using System.CommandLine;
using System.Globalization;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Cli.Options;

/// <summary>The KV-cache policy a command line chose: its name, the LagKV options behind it, and the policy (null: full cache).</summary>
public sealed record KvPolicyChoice(string Name, LagKvOptions? LagKv, IKvCachePolicy? Policy);

/// <summary>
/// The KV-cache flags shared by `engine run` and `engine eval`: --lagkv, --lag-size, --sink-size,
/// --lagkv-skip-layers, --lagkv-mode, --kv-policy; and `--prefill-chunk auto` (S + 2L, then L).
/// </summary>
public sealed class KvPolicyOptions
{
    public Option<string?> LagKv { get; } = new("--lagkv") { Description = "LagKV KV-cache compression: Nx keeps 1/N of each partition (N 2..32), r=F keeps the fraction F" };
    public Option<int?> LagSize { get; } = new("--lag-size") { Description = $"LagKV partition (lag) size L (default {Core.Kv.LagKv.LagKvOptions.DefaultLagSize})" };
    public Option<int?> SinkSize { get; } = new("--sink-size") { Description = $"LagKV sink: first S tokens never evicted (default {Core.Kv.LagKv.LagKvOptions.DefaultSinkSize})" };
    public Option<string?> SkipLayers { get; } = new("--lagkv-skip-layers") { Description = "Layers that keep a full cache, e.g. 0,1,30-31" };
    public Option<string?> Mode { get; } = new("--lagkv-mode") { Description = "reference (compress every partition, prefill and decode) or press (once after the prompt, kvpress semantics)" };
    public Option<string?> Policy { get; } = new("--kv-policy") { Description = $"{KvPolicyFactory.Choices} (default: lagkv when --lagkv is given, else full)" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { LagKv, LagSize, SinkSize, SkipLayers, Mode, Policy })
            command.Options.Add(option);
    }

    /// <summary>The LagKV options the flags give, or null when no --lagkv was given.</summary>
    public LagKvOptions? ParseLagKv(ParseResult parsed)
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
            Retention = LagKvOptions.ParseRetention(ratio),
            LagSize = parsed.GetValue(LagSize) ?? LagKvOptions.DefaultLagSize,
            SinkSize = parsed.GetValue(SinkSize) ?? LagKvOptions.DefaultSinkSize,
            SkipLayers = LagKvOptions.ParseSkipLayers(parsed.GetValue(SkipLayers)),
            Mode = mode is null ? LagKvMode.Reference : LagKvOptions.ParseMode(mode),
        };
    }

    /// <summary>The flags as a request-level spec (for requests that override some of them, e.g. `run --batch` lines).</summary>
    public KvPolicySpec Spec(ParseResult parsed) => new(parsed.GetValue(Policy), parsed.GetValue(LagKv), parsed.GetValue(LagSize),
        parsed.GetValue(SinkSize), parsed.GetValue(Mode), parsed.GetValue(SkipLayers));

    /// <summary>Resolves the flags into a policy for a model with <paramref name="layerCount"/> layers.</summary>
    public KvPolicyChoice Resolve(ParseResult parsed, int layerCount)
    {
        LagKvOptions? options = ParseLagKv(parsed);
        string name = (parsed.GetValue(Policy) ?? (options is null ? "full" : "lagkv")).Trim().ToLowerInvariant();
        if (name == "full") return new KvPolicyChoice(name, options, null);
        if (options is null) throw new EngineException($"--kv-policy {name} needs a budget: give --lagkv (e.g. --lagkv 4x)");
        return new KvPolicyChoice(name, options, KvPolicyFactory.Create(name, options, layerCount));
    }

    /// <summary>`--prefill-chunk`: a chunk size (0: the whole prompt) or `auto` (with LagKV: S + 2L, then L; without: the default).</summary>
    public static PrefillSchedule ParsePrefillChunk(string? text, LagKvOptions? options) =>
        text is null ? PrefillSchedule.Default : LagKvPrefill.Parse(text, options, "--prefill-chunk");
}
