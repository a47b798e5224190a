namespace Engine.Kernels;

/// <summary>
/// Attention weights for KV-cache policies that rank keys by the attention they receive (SnapKV,
/// H2O). The paged attention op never materialises its weights; this op recomputes them for the
/// rows a policy asks for and reduces them to one score per slot, so only [kvHeads, length] floats
/// are produced. Implemented by both backends.
/// </summary>
public interface IAttentionScoreOps
{
    /// <summary>
    /// sums F32 [kvHeads, length]: sums[g, j] = sum over query rows r in [firstQuery, queries) and the
    /// query heads h of KV group g of softmax_j(scale * q[r, h] . k[g, j]), where row r of the step
    /// (q F32 [queries, heads, headDim], the step's rows being the layer's last <paramref name="queries"/>
    /// slots) sees slots [0, length - queries + r] as in <see cref="IBackend.Attention(DeviceArray, KvPool, DeviceArray, int, DeviceArray, int, AttentionShape)"/>; slots a row
    /// does not see get nothing from it.
    /// </summary>
    void AttentionColumnSums(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, int queries, int firstQuery,
        AttentionShape shape, DeviceArray sums);
}
