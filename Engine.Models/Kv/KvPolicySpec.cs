using Engine.Core;
using Engine.Core.Kv.LagKv;

namespace Engine.Models.Kv;

/// <summary>
/// A KV-cache policy as a request writes it (`kv_policy`, `lagkv`, `lag_size`, `sink_size`,
/// `lagkv_mode`, `lagkv_skip_layers`): text and numbers, resolved against a model by <see cref="Create"/>.
/// Used where requests carry their own policy (IChatClient's AdditionalProperties, `engine run --batch` lines).
/// </summary>
public sealed record KvPolicySpec(string? Policy = null, string? Ratio = null, int? LagSize = null, int? SinkSize = null,
    string? Mode = null, string? SkipLayers = null)
{
    /// <summary>The policy's name: `kv_policy`, else lagkv when a ratio is given, else full.</summary>
    public string Name => (Policy ?? (Ratio is null ? "full" : "lagkv")).Trim().ToLowerInvariant();

    /// <summary>The LagKV options (the budget of every compressing policy), or null without a ratio.</summary>
    public LagKvOptions? LagKv()
    {
        if (Ratio is null)
        {
            if (LagSize is not null || SinkSize is not null || Mode is not null || SkipLayers is not null)
                throw new EngineException("lag_size, sink_size, lagkv_mode and lagkv_skip_layers need lagkv (e.g. \"lagkv\": \"4x\")");
            return null;
        }
        return new LagKvOptions
        {
            Retention = LagKvText.ParseRetention(Ratio, "lagkv"),
            LagSize = LagSize ?? LagKvOptions.DefaultLagSize,
            SinkSize = SinkSize ?? LagKvOptions.DefaultSinkSize,
            SkipLayers = LagKvText.ParseSkipLayers(SkipLayers, "lagkv_skip_layers"),
            Mode = Mode is null ? LagKvMode.Reference : LagKvText.ParseMode(Mode, "lagkv_mode"),
        };
    }

    /// <summary>The policy for a model of <paramref name="layerCount"/> layers; null for the full cache.</summary>
    public IKvCachePolicy? Create(int layerCount)
    {
        var options = LagKv();
        if (Name == "full") return null;
        if (options is null) throw new EngineException($"kv_policy {Name} needs a budget: give lagkv (e.g. \"lagkv\": \"4x\")");
        return KvPolicyFactory.Create(Name, options, layerCount);
    }

    /// <summary>This spec with every field <paramref name="overrides"/> sets replaced.</summary>
    public KvPolicySpec With(KvPolicySpec overrides) => new(
        overrides.Policy ?? Policy, overrides.Ratio ?? Ratio, overrides.LagSize ?? LagSize, overrides.SinkSize ?? SinkSize,
        overrides.Mode ?? Mode, overrides.SkipLayers ?? SkipLayers);
}
