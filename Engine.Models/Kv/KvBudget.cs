using Engine.Core.Kv.LagKv;

namespace Engine.Models.Kv;

/// <summary>
/// The KV size the baselines may hold: what LagKV with the same S, L and ratio holds after the same
/// number of tokens (docs/lagkv.md, Eq. 12), so that every policy is compared at equal cache size.
/// Layers LagKV skips keep a full cache under the baselines too.
/// </summary>
public sealed record KvBudget(LagKvOptions LagKv)
{
    /// <summary>Slots a layer may hold once <paramref name="tokens"/> tokens have been seen.</summary>
    public int SlotsAfter(long tokens) => (int)LagKvSchedule.LengthAfter(LagKv, tokens);

    public bool Compresses(int layer) => LagKv.Compresses(layer);

    /// <summary>Tokens seen once the step <paramref name="step"/> is done (its logical length is not yet advanced).</summary>
    public static long TokensAfter(KvStepContext step) => (long)step.Sequence.LogicalLength + step.StepTokens;
}
