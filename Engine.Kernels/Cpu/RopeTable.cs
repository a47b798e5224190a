namespace Engine.Kernels.Cpu;

/// <summary>
/// cos and sin of every (row, frequency) angle of one RoPE call, kept for the next call with the same
/// positions and frequencies: a forward pass rotates q and k of every layer at the same positions, so the
/// table is computed once per step instead of 2 x layers times.
/// </summary>
internal sealed unsafe class RopeTable
{
    private readonly int[] _positions;
    private readonly float[] _invFreq;

    private RopeTable(int* positions, int rows, float* invFreq, int half)
    {
        _positions = new ReadOnlySpan<int>(positions, rows).ToArray();
        _invFreq = new ReadOnlySpan<float>(invFreq, half).ToArray();
        Cos = new float[(long)rows * half];
        Sin = new float[(long)rows * half];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < half; j++)
            {
                // The angle is the f32 product, as Hugging Face computes it (the model was trained with
                // those phases); its sine and cosine are then taken in double.
                double angle = _positions[r] * _invFreq[j];
                Cos[r * half + j] = (float)Math.Cos(angle);
                Sin[r * half + j] = (float)Math.Sin(angle);
            }
    }

    /// <summary>[rows, half] cosines and sines.</summary>
    public float[] Cos { get; }
    public float[] Sin { get; }

    /// <summary><paramref name="cached"/> when it was built from the same positions and frequencies, else a new table.</summary>
    public static RopeTable For(RopeTable? cached, int* positions, int rows, float* invFreq, int half) =>
        cached is not null
        && new ReadOnlySpan<int>(positions, rows).SequenceEqual(cached._positions)
        && new ReadOnlySpan<float>(invFreq, half).SequenceEqual(cached._invFreq)
            ? cached
            : new RopeTable(positions, rows, invFreq, half);
}
