using Engine.Core.Kv.LagKv;

namespace Engine.Kernels;

/// <summary>
/// LagKV's device ops (docs/lagkv.md), implemented by both backends; the KV cache never leaves the
/// device. One compression of one layer runs <see cref="LagKvScore"/>, <see cref="LagKvSelect"/> and
/// <see cref="LagKvCompact"/> in that order; the caller then shrinks the layer (LayerKv.Shrink) to
/// <see cref="LagKvCompression.LengthAfter"/>. Statistics are fp32 whatever the pool dtype.
/// </summary>
public interface ILagKvOps
{
    /// <summary>
    /// scores F32 [kvHeads, c.Partitions, c.LagSize]: for partition p (slots c.WindowStart + p*L ..)
    /// of each KV head, q_K + valueWeight * q_V, where q_Z is the softmax over the partition's tokens of
    /// the unbiased std of the token's channels min-max normalised by the next partition (a channel
    /// with hi == lo contributes 0).
    /// </summary>
    void LagKvScore(KvPool pool, DeviceArray pageTable, LagKvCompression c, float valueWeight, DeviceArray scores);

    /// <summary>
    /// kept I32 [kvHeads, c.Partitions, c.Keep]: the in-partition offsets of each partition's c.Keep
    /// best scores, ascending; ties go to the lower offset.
    /// </summary>
    void LagKvSelect(DeviceArray scores, int kvHeads, LagKvCompression c, DeviceArray kept);

    /// <summary>
    /// Moves each head's kept tokens to slots c.WindowStart.. (partition by partition, ascending
    /// original position) and the c.TailLength tail slots behind them. scratch must hold
    /// <see cref="LagKvCompactScratchElements"/> elements of the pool's dtype (backends that move
    /// in place may ignore it).
    /// </summary>
    void LagKvCompact(KvPool pool, DeviceArray pageTable, LagKvCompression c, DeviceArray kept, DeviceArray scratch);

    /// <summary>
    /// Press mode (kvpress's LagKVPress): turns the partition scores of <see cref="LagKvScore"/> for
    /// <paramref name="c"/> (the c.Partitions scored partitions after a sink of c.WindowStart slots,
    /// followed by c.TailLength unscored slots) into one score per slot of the whole layer,
    /// pressScores F32 [kvHeads, c.LengthBefore]: 1 for the sink and the tail, (L - 1 - rank) / L for
    /// a partition's token whose score is beaten by rank others of its partition (ties: lower offset wins).
    /// </summary>
    void LagKvPressScores(DeviceArray partitionScores, int kvHeads, LagKvCompression c, DeviceArray pressScores);

    /// <summary>Scratch elements <see cref="LagKvCompact"/> needs: keys and values of every moved slot of every head.</summary>
    public static long LagKvCompactScratchElements(KvPool pool, LagKvCompression c) =>
        2L * pool.KvHeads * ((long)c.Partitions * c.Keep + c.TailLength) * pool.HeadDim;
}
