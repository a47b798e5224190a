namespace Engine.Kernels.Ilgpu;

/// <summary>The scalar arguments of the paged-attention kernels.</summary>
public struct AttentionParams
{
    public KvPoolLayout Kv;
    public KvRowMap Rows;
    public int Heads;
    /// <summary>Decode only: the first row the decode grid covers, slots per split and the number of splits (flash-decoding).</summary>
    public int FirstDecodeRow, SlotsPerSplit, Splits;
    /// <summary>Slots staged per block; query rows and query heads (of one KV head's group) per tile.</summary>
    public int SlotBlock, RowsPerTile, HeadsPerTile;
    /// <summary>1 when K/V rows are whole 16-byte packs (staged by 128-bit loads), else 0.</summary>
    public int PackedKv;
    public float Scale;

    /// <summary>Floats of one split's partial result in scratch: max, sum, then headDim accumulators.</summary>
    public readonly int PartialStride => Kv.HeadDim + 2;
}
