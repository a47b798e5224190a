using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Server.Api;

/// <summary>
/// Wraps a request's KV policy (or none) to watch each layer's logical and physical length as the forward
/// pass runs, so a stream can report the cache while it compresses (`stream_options.include_kv`). The
/// policy itself runs unchanged; the observer only reads the lengths after it.
/// </summary>
public sealed class LiveKvObserver(IKvCachePolicy? inner, int layers) : IKvCachePolicy, IDisposable
{
    private readonly int[] _logical = new int[layers], _physical = new int[layers];

    public string Name => inner?.Name ?? "full";
    public bool Compresses(int layer) => inner?.Compresses(layer) ?? false;
    public KvPolicyState CreateState(int layers) => inner?.CreateState(layers) ?? new KvPolicyState(layers);

    public void AfterAttention(KvStepContext step)
    {
        inner?.AfterAttention(step);
        // The sequence's logical length is advanced after the step: this step's tokens count already.
        Volatile.Write(ref _physical[step.Layer], step.Sequence.Layers[step.Layer].PhysicalLength);
        Volatile.Write(ref _logical[step.Layer], step.Sequence.LogicalLength + step.StepTokens);
    }

    /// <summary>The lengths after the latest step each layer ran (read from another thread: a step may be half seen).</summary>
    public IReadOnlyList<LayerKvLength> Snapshot() =>
        Enumerable.Range(0, _logical.Length).Select(l => new LayerKvLength(Volatile.Read(ref _logical[l]), Volatile.Read(ref _physical[l]))).ToArray();

    public void Dispose() => (inner as IDisposable)?.Dispose();
}
