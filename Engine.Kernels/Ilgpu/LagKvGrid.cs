using Engine.Core.Kv.LagKv;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// One LagKV compression as a kernel argument: the pool layout plus the partitions being compressed
/// (see <see cref="LagKvCompression"/>). A job is one (KV head, partition) pair.
/// </summary>
public struct LagKvGrid
{
    public KvPoolLayout Geometry;
    public int WindowStart, Partitions, Lag, Keep, TailLength;
    public float ValueWeight;

    public static LagKvGrid Of(KvPoolLayout geometry, LagKvCompression c, float valueWeight) => new()
    {
        Geometry = geometry, WindowStart = c.WindowStart, Partitions = c.Partitions, Lag = c.LagSize,
        Keep = c.Keep, TailLength = c.TailLength, ValueWeight = valueWeight,
    };

    public readonly int Jobs => Geometry.KvHeads * Partitions;
    /// <summary>Slots each head keeps from the window: the kept tokens, then the tail.</summary>
    public readonly int Moved => Partitions * Keep + TailLength;

    /// <summary>Element offset of a layer's slot for a head, through its page table.</summary>
    public readonly long SlotOffset(ILGPU.ArrayView<int> pageTable, int head, int slot) =>
        Geometry.SlotOffset(pageTable, head, slot);
}
