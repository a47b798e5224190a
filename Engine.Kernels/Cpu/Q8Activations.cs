using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Activation rows quantized to 8 bits once per linear call, so the weight products run as integer dot
/// products (as llama.cpp's Q8_0 and Q8_K): per block of <see cref="Block"/> values a float scale
/// d = max|x| / 127 and q = round(x / d). For the 32-weight types each block also keeps d * sum(q)
/// (the zero-point term of Q4_0/Q5_0's q - 8 and q - 16); for the 256-weight K types the sums of each
/// 16 q (bsums), so the mins and Q6_K's -32 cost a few scalar products per super-block.
/// </summary>
internal readonly unsafe struct Q8Activations
{
    /// <summary>q of row r: Q + r * N.</summary>
    public readonly sbyte* Q;
    /// <summary>Block scales of row r: D + r * N / Block.</summary>
    public readonly float* D;
    /// <summary>32-weight types: d * sum(q) per block, row r at S + r * N / 32.</summary>
    public readonly float* S;
    /// <summary>K types: sum(q) per 16 values, row r at BSums + r * N / 16.</summary>
    public readonly short* BSums;
    public readonly int N, Block;
    /// <summary>Per-row strides of D, S and BSums (precomputed: a division per kernel call cost more than a short row's products).</summary>
    private readonly int _scaleStride, _sumStride, _bsumStride;

    private Q8Activations(byte* buffer, int rows, int n, int block)
    {
        N = n;
        Block = block;
        _scaleStride = n / block;
        _sumStride = n / 32;
        _bsumStride = n / 16;
        Q = (sbyte*)buffer;
        D = (float*)(buffer + Align((long)rows * n));
        S = D + (long)rows * (n / block);
        BSums = (short*)(S + (block == 32 ? (long)rows * (n / 32) : 0));
    }

    /// <summary>Bytes of the buffer <see cref="QuantizeRow"/> fills for rows x n values in blocks of <paramref name="block"/> (32 or 256).</summary>
    public static long BufferBytes(int rows, int n, int block) =>
        Align((long)rows * n) + (long)rows * (n / block) * sizeof(float) + (block == 32 ? (long)rows * (n / 32) * sizeof(float) : (long)rows * (n / 16) * sizeof(short));

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    public sbyte* Row(int r) => Q + (long)r * N;
    public float* Scales(int r) => D + (long)r * _scaleStride;
    public float* Sums(int r) => S + (long)r * _sumStride;
    public short* BlockSums(int r) => BSums + (long)r * _bsumStride;

    /// <summary>Views <paramref name="buffer"/> (at least <see cref="BufferBytes"/>) as the layout; fill it with <see cref="QuantizeRow"/>.</summary>
    public static Q8Activations Over(byte* buffer, int rows, int n, int block) => new(buffer, rows, n, block);

    /// <summary>Quantizes row <paramref name="r"/> from <paramref name="x"/> (n floats, n a multiple of the block).</summary>
    public void QuantizeRow(float* x, int r)
    {
        sbyte* q = Row(r);
        float* d = Scales(r);
        for (int b = 0; b < N / Block; b++)
        {
            float* xb = x + (long)b * Block;
            sbyte* qb = q + (long)b * Block;
            var amax = Vector256<float>.Zero;
            for (int i = 0; i < Block; i += 8) amax = Vector256.Max(amax, Vector256.Abs(Vector256.Load(xb + i)));
            float max = 0;
            for (int k = 0; k < 8; k++) max = Math.Max(max, amax[k]);
            float scale = max / 127, inverse = max != 0 ? 127 / max : 0;
            d[b] = scale;
            var factor = Vector256.Create(inverse);
            for (int i = 0; i < Block; i += 32)
            {
                var i0 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(xb + i) * factor));
                var i1 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(xb + i + 8) * factor));
                var i2 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(xb + i + 16) * factor));
                var i3 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(xb + i + 24) * factor));
                var s01 = Vector256.Narrow(i0, i1);
                var s23 = Vector256.Narrow(i2, i3);
                Vector256.Narrow(s01, s23).Store(qb + i);
                if (Block == 32) Sums(r)[b] = scale * Vector256.Sum(i0 + i1 + i2 + i3);
                else
                {
                    short* bsums = BlockSums(r) + (long)b * (Block / 16) + i / 16;
                    bsums[0] = (short)Vector256.Sum(i0 + i1);
                    bsums[1] = (short)Vector256.Sum(i2 + i3);
                }
            }
        }
    }
}
