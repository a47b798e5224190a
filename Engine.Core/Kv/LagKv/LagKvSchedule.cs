namespace Engine.Core.Kv.LagKv;

/// <summary>
/// When LagKV compresses and what lengths result: pure arithmetic over S, L and k (docs/lagkv.md,
/// "When compression runs"). Positions are logical; everything here counts slots of one layer.
/// </summary>
public static class LagKvSchedule
{
    /// <summary>base = S + J*k: where the uncompressed window starts.</summary>
    public static int WindowStart(LagKvOptions options, int compressedPartitions) =>
        options.SinkSize + compressedPartitions * options.KeepPerPartition;

    /// <summary>
    /// The compression due for a layer holding <paramref name="physicalLength"/> slots after a step,
    /// or null when its window W holds fewer than 2L tokens. With P = floor(W / L) complete
    /// partitions, partitions 0..P-2 of the window are compressed; the last complete one (no
    /// reference yet) and the W mod L trailing tokens stay as the new window.
    /// </summary>
    public static LagKvCompression? Plan(LagKvOptions options, int compressedPartitions, int physicalLength)
    {
        int lag = options.LagSize;
        int windowStart = WindowStart(options, compressedPartitions);
        int window = physicalLength - windowStart;
        if (window < 0 && compressedPartitions > 0)
            throw new InvalidOperationException($"layer holds {physicalLength} slots, fewer than its compressed prefix {windowStart}");
        if (window < 2 * lag) return null;
        int complete = window / lag;
        int partitions = complete - 1;
        return new LagKvCompression(windowStart, compressedPartitions, partitions, lag, options.KeepPerPartition,
            window - partitions * lag);
    }

    /// <summary>
    /// Slots a compressed layer holds once <paramref name="tokens"/> tokens have been seen, whatever
    /// the chunking (the paper's Eq. 12): S + k*(floor((n-S)/L) - 1) + L + (n-S) mod L, or n below S + 2L.
    /// </summary>
    public static long LengthAfter(LagKvOptions options, long tokens)
    {
        int s = options.SinkSize, lag = options.LagSize;
        if (tokens < s + 2L * lag) return tokens;
        long afterSink = tokens - s;
        return s + (long)options.KeepPerPartition * (afterSink / lag - 1) + lag + afterSink % lag;
    }

    /// <summary>Grid partitions compressed once <paramref name="tokens"/> tokens have been seen.</summary>
    public static long CompressedPartitionsAfter(LagKvOptions options, long tokens)
    {
        if (tokens < options.SinkSize + 2L * options.LagSize) return 0;
        return (tokens - options.SinkSize) / options.LagSize - 1;
    }

    /// <summary>
    /// Press mode (kvpress semantics): tokens kept per KV head out of a context of
    /// <paramref name="tokens"/>: floor(T * (1 - compression ratio)), where the compression ratio is
    /// the fraction removed. Contexts shorter than S + 2L are not compressed.
    /// </summary>
    public static int PressKeepCount(LagKvOptions options, int tokens)
    {
        if (tokens < options.SinkSize + 2 * options.LagSize) return tokens;
        // 1 - ratio is the retention itself; using it directly avoids 1 - (1 - r) rounding below r.
        return (int)Math.Floor(tokens * options.Retention);
    }

    /// <summary>
    /// Press mode's scoring layout over a context of <paramref name="tokens"/>: the sink, P - 1 scored
    /// partitions (P = floor((T - S) / L)), then a tail of L + (T - S) mod L unscored tokens; null
    /// below S + 2L. Its Keep is unused: press mode selects over the whole layer (<see cref="PressSelection"/>).
    /// </summary>
    public static LagKvCompression? PressScoring(LagKvOptions options, int tokens)
    {
        int s = options.SinkSize, lag = options.LagSize;
        if (tokens < s + 2 * lag) return null;
        int partitions = (tokens - s) / lag - 1;
        return new LagKvCompression(s, 0, partitions, lag, 0, tokens - s - partitions * lag);
    }

    /// <summary>Press mode's selection: the whole layer as one span of T slots keeping <see cref="PressKeepCount"/>.</summary>
    public static LagKvCompression PressSelection(LagKvOptions options, int tokens) =>
        new(0, 0, 1, tokens, PressKeepCount(options, tokens), 0);
}
