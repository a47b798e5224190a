using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Models.Benchmarks;

/// <summary>How each benchmarked request runs besides its lengths: the prefill chunking and a KV-cache policy.</summary>
public sealed record BenchWorkload
{
    public PrefillSchedule Prefill { get; init; } = PrefillSchedule.Default;
    /// <summary>Null: the full cache.</summary>
    public IKvCachePolicy? KvPolicy { get; init; }
    /// <summary>Called before each timed repetition (not the warm-up), e.g. to reset a timer.</summary>
    public Action<int>? BeforeRepetition { get; init; }
    /// <summary>Told what starts next (the warm-up, a request's prefill, its decode), so long work shows progress.</summary>
    public Action<string>? Progress { get; init; }
}
