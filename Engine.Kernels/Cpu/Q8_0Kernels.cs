using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Row kernels over Q8_0 weights (per 32 weights: f16 scale d, 32 int8 q): the int8 values are widened
/// to float and multiplied with float activations, so results match a float forward over the
/// dequantized weights (activations are not rounded to 8 bits). Decode reads 34 bytes per 32 weights:
/// 53% of bf16's bytes, 27% of f32's. AVX-512 and AVX2 paths sign-extend int8 straight to int32;
/// other CPUs take the scalar loop.
/// </summary>
internal static unsafe class Q8_0Kernels
{
    public const int Block = 32, BlockBytes = 34;

    /// <summary>sum_i x[i] * w[i] over one row of <paramref name="n"/> weights (n a multiple of 32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* x, byte* row, int n)
    {
        int blocks = n / Block;
        if (Avx512F.IsSupported)
        {
            // vpmovsxbd: 16 int8 straight to 16 int32, two per block; two accumulators split the dependency chain.
            Vector512<float> acc0 = Vector512<float>.Zero, acc1 = Vector512<float>.Zero;
            int b = 0;
            for (; b + 2 <= blocks; b += 2)
            {
                acc0 = Avx512F.FusedMultiplyAdd(BlockSum512(row + (long)b * BlockBytes, x + (long)b * Block), Vector512.Create(Scale(row + (long)b * BlockBytes)), acc0);
                acc1 = Avx512F.FusedMultiplyAdd(BlockSum512(row + (long)(b + 1) * BlockBytes, x + (long)(b + 1) * Block), Vector512.Create(Scale(row + (long)(b + 1) * BlockBytes)), acc1);
            }
            if (b < blocks) acc0 = Avx512F.FusedMultiplyAdd(BlockSum512(row + (long)b * BlockBytes, x + (long)b * Block), Vector512.Create(Scale(row + (long)b * BlockBytes)), acc0);
            return Vector512.Sum(acc0 + acc1);
        }
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++)
            {
                byte* block = row + (long)b * BlockBytes;
                sbyte* q = (sbyte*)(block + 2);
                float* xb = x + (long)b * Block;
                var sum = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q)) * Vector256.Load(xb);
                sum = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 8)), Vector256.Load(xb + 8), sum);
                sum = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 16)), Vector256.Load(xb + 16), sum);
                sum = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + 24)), Vector256.Load(xb + 24), sum);
                acc = Fma.MultiplyAdd(sum, Vector256.Create(Scale(block)), acc);
            }
            return Vector256.Sum(acc);
        }
        float total = 0;
        for (int b = 0; b < blocks; b++)
        {
            byte* block = row + (long)b * BlockBytes;
            float sum = 0;
            for (int i = 0; i < Block; i++) sum += ((sbyte*)(block + 2))[i] * x[b * Block + i];
            total += Scale(block) * sum;
        }
        return total;
    }

    /// <summary>Dequantizes <paramref name="n"/> weights from the start of <paramref name="row"/> (n a multiple of 32), as ggml does: q * d.</summary>
    public static void Widen(byte* row, float* output, int n)
    {
        for (int b = 0; b < n / Block; b++)
        {
            byte* block = row + (long)b * BlockBytes;
            float d = Scale(block);
            for (int i = 0; i < Block; i++) output[b * Block + i] = ((sbyte*)(block + 2))[i] * d;
        }
    }

    /// <summary>x[0..32) · q[0..32) of one block, before its scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> BlockSum512(byte* block, float* x)
    {
        var q0 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)(block + 2))));
        var q1 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load((sbyte*)(block + 18))));
        return Avx512F.FusedMultiplyAdd(q1, Vector512.Load(x + 16), q0 * Vector512.Load(x));
    }

    /// <summary>The block's f16 scale as float, through a 64K-entry table (as ggml does): .NET's Half conversion is a software routine.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Scale(byte* block) => HalfToFloat[*(ushort*)block];

    private static readonly float* HalfToFloat = BuildHalfTable();

    private static float* BuildHalfTable()
    {
        float* table = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * sizeof(float), 64); // lives for the process
        for (int i = 0; i < 65536; i++) table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }
}
