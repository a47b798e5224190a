namespace Engine.Core.Kv.LagKv;

/// <summary>
/// What LagKV remembers about one layer of one sequence: how many grid partitions it has compressed
/// (J). The compressed region ends at base = S + J*k; the uncompressed window runs from base to the
/// layer's physical length.
/// </summary>
public sealed class LagKvLayerState
{
    public int CompressedPartitions { get; private set; }

    /// <summary>Records a compression the layer has gone through.</summary>
    public void Apply(LagKvCompression compression)
    {
        if (compression.FirstPartition != CompressedPartitions)
            throw new InvalidOperationException($"LagKV compression starts at partition {compression.FirstPartition} but the layer has compressed {CompressedPartitions}");
        CompressedPartitions += compression.Partitions;
    }

    public void Reset() => CompressedPartitions = 0;
}
