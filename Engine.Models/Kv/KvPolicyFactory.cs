using Engine.Core;
using Engine.Core.Kv.LagKv;

namespace Engine.Models.Kv;

/// <summary>Builds the KV-cache policy `--kv-policy` names.</summary>
public static class KvPolicyFactory
{
    public const string Choices = "lagkv|streaming|full";

    /// <summary>
    /// full: no policy (null). lagkv: <see cref="LagKvPolicy"/>. streaming: <see cref="StreamingLlmPolicy"/>
    /// at the budget of the same LagKV options. Options are validated against the model's layer count.
    /// </summary>
    public static IKvCachePolicy? Create(string name, LagKvOptions options, int layerCount)
    {
        string policy = name.Trim().ToLowerInvariant();
        if (policy == "full") return null;
        options.Validate(layerCount);
        return policy switch
        {
            "lagkv" => new LagKvPolicy(options),
            "streaming" => new StreamingLlmPolicy(options),
            "snapkv" or "h2o" => throw new EngineException($"--kv-policy {policy} is not available in this build; choose one of {Choices}"),
            _ => throw new EngineException($"unknown --kv-policy '{name}'; expected one of {Choices}"),
        };
    }
}
