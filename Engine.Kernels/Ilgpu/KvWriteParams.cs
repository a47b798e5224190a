namespace Engine.Kernels.Ilgpu;

/// <summary>The scalar arguments of the KV write kernel.</summary>
public struct KvWriteParams
{
    public KvPoolLayout Kv;
    public KvRowMap Rows;
}
