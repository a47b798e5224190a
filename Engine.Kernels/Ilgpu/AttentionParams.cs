namespace Engine.Kernels.Ilgpu;

/// <summary>The scalar arguments of the paged-attention kernels.</summary>
public struct AttentionParams
{
    public KvGeometry Kv;
    public int Heads, Length, Queries;
    /// <summary>Decode only: slots per split and the number of splits (flash-decoding).</summary>
    public int SlotsPerSplit, Splits;
    public float Scale;

    /// <summary>Floats of one split's partial result in scratch: max, sum, then headDim accumulators.</summary>
    public readonly int PartialStride => Kv.HeadDim + 2;
}
