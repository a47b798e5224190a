using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// Evicts by compaction on the device: given, per KV head, the ascending slots to keep (the same count
/// for every head), moves them to the front of the layer with LagKV's compaction op (the whole layer
/// as one partition keeping that count) and returns the emptied pages to the pool. Only the kept
/// slot indices travel to the device; the cache never leaves it.
/// </summary>
public static class KeptSlotCompactor
{
    /// <summary>
    /// Keeps slots kept[head * keep .. (head + 1) * keep) of each head (ascending, each below the
    /// layer's length) and shrinks the layer to <paramref name="keep"/> slots.
    /// </summary>
    public static void Compact(KvStepContext step, int[] kept, int keep)
    {
        if (step.Backend is not ILagKvOps ops)
            throw new EngineException($"KV-cache eviction is not supported on the {step.Backend.Name} backend");
        LayerKv layer = step.Sequence.Layers[step.Layer];
        int length = layer.PhysicalLength, heads = step.Pool.KvHeads;
        if (keep < 1 || keep >= length || kept.Length != heads * keep)
            throw new ArgumentException($"keeping {keep} of {length} slots with {kept.Length} indices for {heads} heads");
        var c = new LagKvCompression(0, 0, 1, length, keep, 0);
        DeviceArray keptOnDevice = step.Scratch.Kept(kept.Length);
        step.Backend.Upload<int>(keptOnDevice, kept);
        ops.LagKvCompact(step.Pool, step.PageTable, c, keptOnDevice,
            step.Scratch.Compaction(step.Pool.DType, ILagKvOps.LagKvCompactScratchElements(step.Pool, c)));
        layer.Shrink(keep);
        if (step.Sequence.PolicyState is { } state) state.Compressions[step.Layer]++;
    }
}
