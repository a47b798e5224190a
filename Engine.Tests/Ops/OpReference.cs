namespace Engine.Tests.Ops;

/// <summary>
/// The float64 host reference of every IBackend op, written for clarity, not speed. Inputs are the
/// exact values the backend receives (weights already widened from their dtype), so a backend's
/// deviation is only its F32 arithmetic.
/// </summary>
public static class OpReference
{
    public static double[] Embedding(double[] table, int[] tokens, int hidden)
    {
        var output = new double[tokens.Length * hidden];
        for (int i = 0; i < tokens.Length; i++)
            Array.Copy(table, (long)tokens[i] * hidden, output, (long)i * hidden, hidden);
        return output;
    }

    public static double[] RmsNorm(double[] x, double[] weight, int rows, int dim, double eps)
    {
        var output = new double[rows * dim];
        for (int r = 0; r < rows; r++)
        {
            double sumSquares = 0;
            for (int i = 0; i < dim; i++) sumSquares += x[r * dim + i] * x[r * dim + i];
            double inverse = 1.0 / Math.Sqrt(sumSquares / dim + eps);
            for (int i = 0; i < dim; i++) output[r * dim + i] = x[r * dim + i] * inverse * weight[i];
        }
        return output;
    }

    public static double[] Linear(double[] x, double[] weight, double[]? bias, int rows, int inDim, int outDim)
    {
        var output = new double[rows * outDim];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outDim; o++)
            {
                double sum = bias?[o] ?? 0.0;
                for (int i = 0; i < inDim; i++) sum += x[r * inDim + i] * weight[(long)o * inDim + i];
                output[r * outDim + o] = sum;
            }
        return output;
    }

    /// <summary>
    /// Rotate-half RoPE. The angle is the F32 product positions[r] * invFreq[j], as the op (and Hugging
    /// Face) defines it; its sine and cosine are then exact.
    /// </summary>
    public static double[] Rope(double[] x, int[] positions, float[] invFreq, int rows, int heads, int headDim)
    {
        var output = (double[])x.Clone();
        int half = headDim / 2;
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
                for (int j = 0; j < half; j++)
                {
                    double angle = (float)(positions[r] * invFreq[j]);
                    double cos = Math.Cos(angle), sin = Math.Sin(angle);
                    int a = (r * heads + h) * headDim + j;
                    double x1 = x[a], x2 = x[a + half];
                    output[a] = x1 * cos - x2 * sin;
                    output[a + half] = x2 * cos + x1 * sin;
                }
        return output;
    }

    public static double[] SiluMul(double[] gate, double[] up) =>
        gate.Select((g, i) => g / (1.0 + Math.Exp(-g)) * up[i]).ToArray();

    public static double[] Add(double[] x, double[] y) => x.Select((v, i) => v + y[i]).ToArray();

    /// <summary>
    /// The pool (keys or values, laid out [page][kvHead][slot][headDim]) after writing rows vectors
    /// [rows, kvHeads, headDim] at slots startSlot.., each element rounded by <paramref name="store"/>.
    /// </summary>
    public static double[] KvWrite(double[] pool, int[] pageTable, float[] rowsData, KvLayout layout, int startSlot, int rows, Func<float, double> store)
    {
        var output = (double[])pool.Clone();
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < layout.KvHeads; h++)
            {
                long offset = layout.Offset(pageTable, startSlot + r, h);
                for (int d = 0; d < layout.HeadDim; d++)
                    output[offset + d] = store(rowsData[(r * layout.KvHeads + h) * layout.HeadDim + d]);
            }
        return output;
    }

    /// <summary>
    /// Paged causal attention: query i of queries sees slots [0, length - queries + i]; query head h
    /// reads KV head h / (heads / kvHeads); softmax(q.k / sqrt(headDim)) weighted sum of v.
    /// </summary>
    public static double[] Attention(double[] q, double[] keys, double[] values, int[] pageTable, KvLayout layout, int length, int queries, int heads)
    {
        int headDim = layout.HeadDim, group = heads / layout.KvHeads;
        double scale = 1.0 / Math.Sqrt(headDim);
        var output = new double[queries * heads * headDim];
        for (int i = 0; i < queries; i++)
            for (int h = 0; h < heads; h++)
            {
                int kvHead = h / group, visible = length - queries + i + 1;
                int qBase = (i * heads + h) * headDim;
                var scores = new double[visible];
                for (int s = 0; s < visible; s++)
                {
                    long k = layout.Offset(pageTable, s, kvHead);
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) dot += q[qBase + d] * keys[k + d];
                    scores[s] = dot * scale;
                }
                double max = scores.Max();
                double[] weights = scores.Select(v => Math.Exp(v - max)).ToArray();
                double sum = weights.Sum();
                for (int s = 0; s < visible; s++)
                {
                    long v = layout.Offset(pageTable, s, kvHead);
                    for (int d = 0; d < headDim; d++) output[qBase + d] += weights[s] / sum * values[v + d];
                }
            }
        return output;
    }

    /// <summary>Batched attention: each sequence's rows attend, as one sequence would, over its own page table.</summary>
    public static double[] Attention(double[] q, double[] keys, double[] values, TestBatch batch, KvLayout layout, int heads)
    {
        int qDim = heads * layout.HeadDim;
        var output = new double[batch.Rows * qDim];
        for (int s = 0; s < batch.Sequences.Length; s++)
        {
            var seq = batch.Sequences[s];
            double[] rows = Attention(q[(seq.FirstRow * qDim)..((seq.FirstRow + seq.Rows) * qDim)], keys, values, batch.Tables[s], layout,
                seq.FirstSlot + seq.Rows, seq.Rows, heads);
            rows.CopyTo(output, seq.FirstRow * qDim);
        }
        return output;
    }

    /// <summary>Batched KV write: each sequence's rows go to its slots FirstSlot.. through its own page table.</summary>
    public static double[] KvWrite(double[] pool, TestBatch batch, float[] rowsData, KvLayout layout, Func<float, double> store)
    {
        int kvDim = layout.KvHeads * layout.HeadDim;
        foreach (var (seq, table) in batch.Sequences.Zip(batch.Tables))
            pool = KvWrite(pool, table, rowsData[(seq.FirstRow * kvDim)..((seq.FirstRow + seq.Rows) * kvDim)], layout, seq.FirstSlot, seq.Rows, store);
        return pool;
    }

    /// <summary>Index of the largest element; ties to the lowest index.</summary>
    public static int Argmax(float[] x, int count)
    {
        int best = 0;
        for (int i = 1; i < count; i++)
            if (x[i] > x[best]) best = i;
        return best;
    }
}

/// <summary>The KV pool's layout [page][kvHead][slot][headDim], for the reference.</summary>
public readonly record struct KvLayout(int KvHeads, int PageSize, int HeadDim)
{
    /// <summary>Element offset of a layer's logical slot through its page table.</summary>
    public long Offset(int[] pageTable, int slot, int kvHead) =>
        ((long)pageTable[slot / PageSize] * KvHeads + kvHead) * PageSize * HeadDim + (long)(slot % PageSize) * HeadDim;
}
