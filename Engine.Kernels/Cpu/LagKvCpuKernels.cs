using Engine.Core;
using Engine.Core.Kv.LagKv;

namespace Engine.Kernels.Cpu;

/// <summary>
/// LagKV's ops on host memory, for the SIMD CPU backend: the pool's keys and values as raw bytes in
/// the <see cref="KvPoolLayout"/>, given by address (the backend's pinned or native memory; any
/// size). fp32 statistics; (head, partition) pairs run in parallel.
/// </summary>
public static unsafe class LagKvCpuKernels
{
    public static void Score(KvPoolLayout layout, nint keys, nint values, int[] pageTable,
        LagKvCompression c, float valueWeight, float[] scores)
    {
        int heads = layout.KvHeads, lag = c.LagSize;
        if (scores.Length < (long)heads * c.Partitions * lag) throw new ArgumentException("scores too small", nameof(scores));
        Parallel.For(0, heads * c.Partitions, job =>
        {
            int head = job / c.Partitions, p = job % c.Partitions;
            int first = c.WindowStart + p * lag;
            Span<float> score = scores.AsSpan(job * lag, lag);
            var q = new float[lag];
            TokenSoftmax(layout, keys, pageTable, head, first, lag, score);
            TokenSoftmax(layout, values, pageTable, head, first, lag, q);
            for (int t = 0; t < lag; t++) score[t] += valueWeight * q[t];
        });
    }

    /// <summary>q[t] = softmax over the partition of the unbiased std of token t's normalised channels.</summary>
    private static void TokenSoftmax(KvPoolLayout layout, nint pool, int[] pageTable, int head, int first, int lag, Span<float> q)
    {
        int dim = layout.HeadDim;
        var lo = new float[dim];
        var hi = new float[dim];
        var row = new float[dim];
        Array.Fill(lo, float.PositiveInfinity);
        Array.Fill(hi, float.NegativeInfinity);
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

    private static void ReadRow(KvPoolLayout layout, nint pool, int[] pageTable, int head, int slot, Span<float> row)
    {
        long offset = layout.SlotOffset(pageTable, head, slot);
        int dim = layout.HeadDim;
        switch (layout.DType)
        {
            case DType.F32:
                new ReadOnlySpan<float>((float*)pool + offset, dim).CopyTo(row);
                break;
            case DType.BF16:
            {
                var bits = new ReadOnlySpan<ushort>((ushort*)pool + offset, dim);
                for (int d = 0; d < dim; d++) row[d] = BitConverter.Int32BitsToSingle(bits[d] << 16);
                break;
            }
            case DType.F16:
            {
                var bits = new ReadOnlySpan<Half>((Half*)pool + offset, dim);
                for (int d = 0; d < dim; d++) row[d] = (float)bits[d];
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(layout));
        }
    }

    /// <summary>Top-k per (head, partition), ascending offsets, ties to the lower offset.</summary>
    public static void Select(float[] scores, int kvHeads, LagKvCompression c, int[] kept)
    {
        int lag = c.LagSize, keep = c.Keep;
        Parallel.For(0, kvHeads * c.Partitions, job =>
        {
            var order = new int[lag];
            for (int t = 0; t < lag; t++) order[t] = t;
            ReadOnlySpan<float> s = scores.AsSpan(job * lag, lag);
            float[] copy = s.ToArray();
            Array.Sort(order, (a, b) => copy[a] != copy[b] ? copy[b].CompareTo(copy[a]) : a.CompareTo(b));
            Span<int> best = kept.AsSpan(job * keep, keep);
            order.AsSpan(0, keep).CopyTo(best);
            best.Sort();
        });
    }

    /// <summary>
    /// Moves kept tokens and the tail down, per head, in ascending slot order: every destination is
    /// at or below its source and below all later sources, so the move is safe in place.
    /// </summary>
    public static void Compact(KvPoolLayout layout, nint keys, nint values, int[] pageTable, LagKvCompression c, int[] kept)
    {
        int rowBytes = layout.HeadDim * DTypes.SizeOf(layout.DType);
        Parallel.For(0, layout.KvHeads, head =>
        {
            int destination = c.WindowStart;
            for (int p = 0; p < c.Partitions; p++)
                for (int i = 0; i < c.Keep; i++)
                {
                    int source = c.WindowStart + p * c.LagSize + kept[(head * c.Partitions + p) * c.Keep + i];
                    MoveRow(layout, keys, values, pageTable, head, source, destination++, rowBytes);
                }
            for (int i = 0; i < c.TailLength; i++)
                MoveRow(layout, keys, values, pageTable, head, c.TailSource + i, destination++, rowBytes);
        });
    }

    private static void MoveRow(KvPoolLayout layout, nint keys, nint values, int[] pageTable, int head, int source, int destination, int rowBytes)
    {
        if (source == destination) return;
        int elementBytes = DTypes.SizeOf(layout.DType);
        long from = layout.SlotOffset(pageTable, head, source) * elementBytes;
        long to = layout.SlotOffset(pageTable, head, destination) * elementBytes;
        Buffer.MemoryCopy((byte*)keys + from, (byte*)keys + to, rowBytes, rowBytes);
        Buffer.MemoryCopy((byte*)values + from, (byte*)values + to, rowBytes, rowBytes);
    }
}
