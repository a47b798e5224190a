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

    /// <summary>
    /// The most slots a compressed layer holds while a sequence sees up to <paramref name="tokens"/> tokens
    /// in steps of up to <paramref name="largestStep"/>: after each step the layer holds SlotsAfter(seen), and
    /// a step adds its rows before compressing. SlotsAfter drops at each partition boundary, so its maximum
    /// up to <paramref name="tokens"/> lies within the last partition's reach.
    /// </summary>
    public int PeakSlots(int tokens, int largestStep)
    {
        long peak = 0;
        for (long seen = Math.Max(0, tokens - LagKv.LagSize - 1); seen <= tokens; seen++) peak = Math.Max(peak, SlotsAfter(seen));
        return (int)Math.Min(tokens, peak + largestStep);
    }

    /// <summary>Tokens seen once the step <paramref name="step"/> is done (its logical length is not yet advanced).</summary>
    public static long TokensAfter(KvStepContext step) => (long)step.Sequence.LogicalLength + step.StepTokens;
}
