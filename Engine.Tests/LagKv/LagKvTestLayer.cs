using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Kernels;

namespace Engine.Tests.LagKv;

/// <summary>
/// One layer's KV cache on the host for kernel tests: random K/V (never zero) written through a
/// random, non-contiguous page table into pool-layout byte arrays of the given dtype, plus the
/// compression due on it and the float64 reference's expectations.
/// </summary>
public sealed class LagKvTestLayer
{
    public required KvPoolLayout Layout { get; init; }
    public required int PageCount { get; init; }
    public required int[] PageTable { get; init; }
    public required byte[] Keys { get; init; }
    public required byte[] Values { get; init; }
    public required LagKvCompression Compression { get; init; }
    public required float ValueWeight { get; init; }
    /// <summary>The stored (dtype-rounded) rows before compression, [kvHeads][slot][dim].</summary>
    public required float[][][] KeyRows { get; init; }
    public required float[][][] ValueRows { get; init; }

    public static LagKvTestLayer Create(int seed, int kvHeads, int headDim, int pageSize, DType dtype,
        int sink, int lag, double retention, int compressedPartitions, int length)
    {
        var random = new Random(seed);
        var options = new LagKvOptions { SinkSize = sink, LagSize = lag, Retention = retention };
        LagKvCompression c = LagKvSchedule.Plan(options, compressedPartitions, length)
            ?? throw new ArgumentException("the layer is not due for compression");
        var layout = new KvPoolLayout(kvHeads, pageSize, headDim, dtype);
        int pagesNeeded = (length + pageSize - 1) / pageSize;
        int pageCount = pagesNeeded * 2 + 3;
        int[] pageTable = Enumerable.Range(0, pageCount).OrderBy(_ => random.Next()).Take(pagesNeeded).ToArray();
        int elementBytes = DTypes.SizeOf(dtype);
        long elements = (long)pageCount * kvHeads * pageSize * headDim;
        var keys = new byte[elements * elementBytes];
        var values = new byte[elements * elementBytes];
        random.NextBytes(keys); // garbage outside the layer's slots
        random.NextBytes(values);
        var keyRows = new float[kvHeads][][];
        var valueRows = new float[kvHeads][][];
        for (int h = 0; h < kvHeads; h++)
        {
            keyRows[h] = new float[length][];
            valueRows[h] = new float[length][];
            // Some channels with tiny spread and one constant channel per head exercise the hi == lo rule.
            int constantChannel = random.Next(headDim);
            for (int s = 0; s < length; s++)
            {
                keyRows[h][s] = RandomRow(random, headDim, constantChannel, dtype);
                valueRows[h][s] = RandomRow(random, headDim, -1, dtype);
                long offset = layout.SlotOffset(pageTable, h, s);
                Store(keys, offset, keyRows[h][s], dtype);
                Store(values, offset, valueRows[h][s], dtype);
            }
        }
        return new LagKvTestLayer
        {
            Layout = layout, PageCount = pageCount, PageTable = pageTable, Keys = keys, Values = values,
            Compression = c, ValueWeight = 1.0f, KeyRows = keyRows, ValueRows = valueRows,
        };
    }

    private static float[] RandomRow(Random random, int dim, int constantChannel, DType dtype)
    {
        var row = new float[dim];
        for (int d = 0; d < dim; d++)
        {
            double v = d == constantChannel ? 0.75 : (random.NextDouble() * 2 - 1) * 3 + (random.Next(2) == 0 ? 0.01 : -0.01);
            row[d] = Round((float)v, dtype);
        }
        return row;
    }

    private static float Round(float v, DType dtype) => dtype switch
    {
        DType.F32 => v,
        DType.F16 => (float)(Half)v,
        DType.BF16 => BFloat16.ToFloat(BFloat16.FromFloat(v)),
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static void Store(byte[] pool, long offset, float[] row, DType dtype)
    {
        for (int d = 0; d < row.Length; d++)
        {
            long at = offset + d;
            switch (dtype)
            {
                case DType.F32: BitConverter.TryWriteBytes(pool.AsSpan((int)(at * 4), 4), row[d]); break;
                case DType.F16: BitConverter.TryWriteBytes(pool.AsSpan((int)(at * 2), 2), (Half)row[d]); break;
                case DType.BF16: BitConverter.TryWriteBytes(pool.AsSpan((int)(at * 2), 2), BFloat16.FromFloat(row[d])); break;
            }
        }
    }

    /// <summary>The stored row of (head, slot) read back from a pool byte array.</summary>
    public float[] Load(byte[] pool, int head, int slot)
    {
        long offset = Layout.SlotOffset(PageTable, head, slot);
        var row = new float[Layout.HeadDim];
        for (int d = 0; d < row.Length; d++)
        {
            long at = offset + d;
            row[d] = Layout.DType switch
            {
                DType.F32 => BitConverter.ToSingle(pool, (int)(at * 4)),
                DType.F16 => (float)BitConverter.ToHalf(pool, (int)(at * 2)),
                _ => BFloat16.ToFloat(BitConverter.ToUInt16(pool, (int)(at * 2))),
            };
        }
        return row;
    }

    /// <summary>The float64 reference scores of partition p of a head, [lag].</summary>
    public double[] ReferenceScores(int head, int p)
    {
        int lag = Compression.LagSize, first = Compression.WindowStart + p * lag;
        return LagKvHostReference.PartitionScores(
            Flatten(KeyRows[head], first, lag), Flatten(KeyRows[head], first + lag, lag),
            Flatten(ValueRows[head], first, lag), Flatten(ValueRows[head], first + lag, lag),
            lag, Layout.HeadDim, ValueWeight);
    }

    private static float[] Flatten(float[][] rows, int first, int count) =>
        rows.Skip(first).Take(count).SelectMany(r => r).ToArray();
}
