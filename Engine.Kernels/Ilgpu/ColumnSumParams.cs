namespace Engine.Kernels.Ilgpu;

/// <summary>The scalar arguments of the attention column-sum kernels (<see cref="IAttentionScoreOps"/>).</summary>
public struct ColumnSumParams
{
    public KvPoolLayout Kv;
    public int Heads, Length, Queries, FirstQuery;
    public float Scale;

    /// <summary>Query rows that contribute.</summary>
    public readonly int Rows => Queries - FirstQuery;
    public readonly int GroupSize => Heads / Kv.KvHeads;
    /// <summary>The last slot row r (of the step) sees.</summary>
    public readonly int LastVisible(int row) => Length - Queries + row;
}
