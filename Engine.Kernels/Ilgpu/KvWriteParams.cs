namespace Engine.Kernels.Ilgpu;

/// <summary>The scalar arguments of the KV write kernel.</summary>
public struct KvWriteParams
{
    public KvPoolLayout Kv;
    public KvRowMap Rows;
}

/// <summary>The scalar arguments of the fused RoPE + KV write kernel.</summary>
public struct RopeKvWriteParams
{
    public KvPoolLayout Kv;
    public KvRowMap Rows;
    /// <summary>Query heads (q is [rows, Heads, headDim]; k and v [rows, Kv.KvHeads, headDim]).</summary>
    public int Heads;
}
