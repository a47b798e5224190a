using Engine.Core.Kv.LagKv;
using Engine.Models.Kv;

namespace Engine.Models.Evaluation;

/// <summary>Builds the policy objects `engine eval` compares, all at LagKV's budget for the given options.</summary>
public static class KvEvalPolicies
{
    /// <summary>The policy for <paramref name="kind"/> (null for the full cache); disposable ones should be disposed.</summary>
    public static IKvCachePolicy? Create(KvEvalPolicy kind, LagKvOptions options) => kind switch
    {
        KvEvalPolicy.Full => null,
        KvEvalPolicy.LagKv => new LagKvPolicy(options),
        KvEvalPolicy.StreamingLlm => new StreamingLlmPolicy(new KvBudget(options)),
        KvEvalPolicy.SnapKv => new SnapKvPolicy(new KvBudget(options)),
        _ => new H2OPolicy(new KvBudget(options)),
    };
}
