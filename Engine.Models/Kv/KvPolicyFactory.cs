using Engine.Core;
using Engine.Core.Kv.LagKv;

namespace Engine.Models.Kv;

/// <summary>Builds the KV-cache policy `--kv-policy` names.</summary>
public static class KvPolicyFactory
{
    public const string Choices = "lagkv|streaming|snapkv|h2o|full";

    /// <summary>The policy names <see cref="Create"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = Choices.Split('|');

    /// <summary>
    /// full: no policy (null). lagkv: <see cref="LagKvPolicy"/>. streaming, snapkv, h2o: the baselines
    /// at the budget of the same LagKV options (equal KV size at every step). Options are validated
    /// against the model's layer count.
    /// </summary>
    public static IKvCachePolicy? Create(string name, LagKvOptions options, int layerCount)
    {
        string policy = name.Trim().ToLowerInvariant();
        if (policy == "full") return null;
        options.Validate(layerCount);
        return policy switch
        {
            "lagkv" => new LagKvPolicy(options),
            "streaming" => new StreamingLlmPolicy(new KvBudget(options)),
            "snapkv" => new SnapKvPolicy(new KvBudget(options)),
            "h2o" => new H2OPolicy(new KvBudget(options)),
            _ => throw new EngineException($"unknown KV policy '{name}'; the policies are {string.Join(", ", Names)}"),
        };
    }
}
