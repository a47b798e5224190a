using Engine.Core;
using Engine.Core.Kv.LagKv;

namespace Engine.Kernels.Cpu;

/// <summary>
/// LagKV's ops on host memory, one job at a time (a (head, partition) pair or a head), for the SIMD
/// CPU backend: the pool's keys and values in the <see cref="KvPoolLayout"/>, fp32 statistics.
/// </summary>
internal static unsafe class LagKvCpuKernels
{
    /// <summary>scores[t] = q_K[t] + valueWeight * q_V[t] for partition p of one head (lag floats).</summary>
    public static void ScorePartition(KvPoolLayout layout, void* keys, void* values, int* pageTable,
        LagKvCompression c, int head, int p, float valueWeight, float* scores)
    {
        int lag = c.LagSize, first = c.WindowStart + p * lag;
        var score = new Span<float>(scores, lag);
        Span<float> q = lag <= 4096 ? stackalloc float[lag] : new float[lag];
        TokenSoftmax(layout, keys, pageTable, head, first, lag, score);
        TokenSoftmax(layout, values, pageTable, head, first, lag, q);
        for (int t = 0; t < lag; t++) score[t] += valueWeight * q[t];
    }

    /// <summary>q[t] = softmax over the partition of the unbiased std of token t's channels, min-max normalised by the next partition.</summary>
    private static void TokenSoftmax(KvPoolLayout layout, void* pool, int* pageTable, int head, int first, int lag, Span<float> q)
    {
        int dim = layout.HeadDim;
        Span<float> lo = stackalloc float[dim];
        Span<float> hi = stackalloc float[dim];
        Span<float> row = stackalloc float[dim];
        lo.Fill(float.PositiveInfinity);
        hi.Fill(float.NegativeInfinity);
        for (int t = 0; t < lag; t++)
        {
            ReadRow(layout, pool, pageTable, head, first + lag + t, row);
            for (int d = 0; d < dim; d++) { lo[d] = MathF.Min(lo[d], row[d]); hi[d] = MathF.Max(hi[d], row[d]); }
        }
        float max = float.NegativeInfinity;
        for (int t = 0; t < lag; t++)
        {
            ReadRow(layout, pool, pageTable, head, first + t, row);
            float mean = 0;
            for (int d = 0; d < dim; d++)
            {
                float range = hi[d] - lo[d];
                // A constant channel carries no information: it contributes 0 (the reference divides by zero).
                row[d] = range == 0 ? 0 : (row[d] - lo[d]) / range;
                mean += row[d];
            }
            mean /= dim;
            float squares = 0;
            for (int d = 0; d < dim; d++) squares += (row[d] - mean) * (row[d] - mean);
            q[t] = MathF.Sqrt(squares / (dim - 1));
            max = MathF.Max(max, q[t]);
        }
        float sum = 0;
        for (int t = 0; t < lag; t++) { q[t] = MathF.Exp(q[t] - max); sum += q[t]; }
        for (int t = 0; t < lag; t++) q[t] /= sum;
    }

    private static void ReadRow(KvPoolLayout layout, void* pool, int* pageTable, int head, int slot, Span<float> row)
    {
        long offset = layout.Offset(pageTable[slot / layout.PageSize], head, slot % layout.PageSize);
        int dim = layout.HeadDim;
        switch (layout.DType)
        {
            case DType.F32:
                new ReadOnlySpan<float>((float*)pool + offset, dim).CopyTo(row);
                break;
            case DType.BF16:
                for (int d = 0; d < dim; d++) row[d] = BFloat16.ToFloat(((ushort*)pool)[offset + d]);
                break;
            case DType.F16:
                for (int d = 0; d < dim; d++) row[d] = (float)((Half*)pool)[offset + d];
                break;
            default: throw new ArgumentException($"unsupported KV dtype {layout.DType}");
        }
    }

    /// <summary>The offsets of the keep best of lag scores, ascending; ties go to the lower offset.</summary>
    public static void SelectPartition(float* scores, int lag, int keep, int* kept)
    {
        var order = new int[lag];
        var copy = new ReadOnlySpan<float>(scores, lag).ToArray();
        for (int t = 0; t < lag; t++) order[t] = t;
        Array.Sort(order, (a, b) => copy[a] != copy[b] ? copy[b].CompareTo(copy[a]) : a.CompareTo(b));
        var best = new Span<int>(kept, keep);
        order.AsSpan(0, keep).CopyTo(best);
        best.Sort();
    }

    /// <summary>One head's press scores over the whole layer (see ILagKvOps.LagKvPressScores).</summary>
    public static void PressScoresHead(float* partitionScores, LagKvCompression c, float* pressScores)
    {
        int lag = c.LagSize;
        new Span<float>(pressScores, c.LengthBefore).Fill(1f);
        for (int p = 0; p < c.Partitions; p++)
        {
            float* scores = partitionScores + (long)p * lag;
            for (int t = 0; t < lag; t++)
            {
                float s = scores[t];
                int beaten = 0;
                for (int u = 0; u < lag; u++)
                    if (scores[u] > s || (scores[u] == s && u < t)) beaten++;
                pressScores[c.WindowStart + p * lag + t] = (float)(lag - 1 - beaten) / lag;
            }
        }
    }

    /// <summary>
    /// Moves one head's kept tokens and tail down in ascending slot order: every destination is at or
    /// below its source and below all later sources, so the move is safe in place.
    /// </summary>
    public static void CompactHead(KvPoolLayout layout, void* keys, void* values, int* pageTable,
        LagKvCompression c, int head, int* kept)
    {
        int rowBytes = layout.HeadDim * DTypes.SizeOf(layout.DType);
        int destination = c.WindowStart;
        for (int p = 0; p < c.Partitions; p++)
            for (int i = 0; i < c.Keep; i++)
            {
                int source = c.WindowStart + p * c.LagSize + kept[(head * c.Partitions + p) * c.Keep + i];
                MoveRow(layout, keys, values, pageTable, head, source, destination++, rowBytes);
            }
        for (int i = 0; i < c.TailLength; i++)
            MoveRow(layout, keys, values, pageTable, head, c.TailSource + i, destination++, rowBytes);
    }

    private static void MoveRow(KvPoolLayout layout, void* keys, void* values, int* pageTable, int head, int source, int destination, int rowBytes)
    {
        if (source == destination) return;
        int elementBytes = DTypes.SizeOf(layout.DType);
        long from = layout.Offset(pageTable[source / layout.PageSize], head, source % layout.PageSize) * elementBytes;
        long to = layout.Offset(pageTable[destination / layout.PageSize], head, destination % layout.PageSize) * elementBytes;
        Buffer.MemoryCopy((byte*)keys + from, (byte*)keys + to, rowBytes, rowBytes);
        Buffer.MemoryCopy((byte*)values + from, (byte*)values + to, rowBytes, rowBytes);
    }
}
