namespace Engine.Models.Kv;

/// <summary>What a KV-cache policy did to one layer of a sequence.</summary>
/// <param name="Layer">Layer index.</param>
/// <param name="Skipped">True when the layer keeps a full cache (no policy, or --lagkv-skip-layers).</param>
/// <param name="Compressions">Compressions run on the layer.</param>
/// <param name="CompressedPartitions">LagKV grid partitions compressed so far (J); 0 for other policies.</param>
/// <param name="PhysicalLength">Slots held now.</param>
/// <param name="LogicalLength">Tokens seen.</param>
public sealed record KvLayerStats(int Layer, bool Skipped, int Compressions, int CompressedPartitions, int PhysicalLength, int LogicalLength)
{
    /// <summary>Tokens seen per slot held (1 when nothing was compressed).</summary>
    public double CompressionRatio => PhysicalLength == 0 ? 1 : (double)LogicalLength / PhysicalLength;
}
