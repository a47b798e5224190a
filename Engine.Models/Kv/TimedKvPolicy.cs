namespace Engine.Models.Kv;

/// <summary>
/// Times a policy that has no timer of its own (the StreamingLLM, SnapKV and H2O baselines): every
/// call is measured, including those where the policy decides to do nothing, so it slightly
/// overstates their cost.
/// </summary>
public sealed class TimedKvPolicy(IKvCachePolicy inner, KvCompressionTimer timer) : IKvCachePolicy
{
    public string Name => inner.Name;
    public bool Compresses(int layer) => inner.Compresses(layer);
    public KvPolicyState CreateState(int layers) => inner.CreateState(layers);

    public void AfterAttention(KvStepContext step)
    {
        long start = timer.Start(step.Backend);
        inner.AfterAttention(step);
        timer.Stop(step.Backend, step.IsPrefill, start);
    }

    /// <summary>Attaches <paramref name="timer"/> to <paramref name="policy"/>: its own timer where it has one, else a wrapper.</summary>
    public static IKvCachePolicy Attach(IKvCachePolicy policy, KvCompressionTimer timer)
    {
        if (policy is ITimedKvPolicy timed)
        {
            timed.Timer = timer;
            return policy;
        }
        return new TimedKvPolicy(policy, timer);
    }
}
