using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Row kernels over Q8_0 weights (per 32 weights: f16 scale d, 32 int8 q): the int8 values are widened
/// to float and multiplied with float activations, so results match a float forward over the
/// dequantized weights (activations are not rounded to 8 bits). Decode reads 34 bytes per 32 weights:
/// 47% of bf16's bytes, 27% of f32's.
/// </summary>
internal static unsafe class Q8_0Kernels
{
    public const int Block = 32, BlockBytes = 34;

    /// <summary>sum_i x[i] * w[i] over one row of <paramref name="n"/> weights (n a multiple of 32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public static float Dot(float* x, byte* row, int n)
    {
        int blocks = n / Block;
        if (Vector256.IsHardwareAccelerated)
        {
            var acc = Vector256<float>.Zero;
            for (int b = 0; b < blocks; b++)
            {
                byte* block = row + (long)b * BlockBytes;
                float* xb = x + (long)b * Block;
                var (lo, hi) = Vector256.Widen(Vector256.Load((sbyte*)(block + 2)));
                var (q0, q1) = Vector256.Widen(lo);
                var (q2, q3) = Vector256.Widen(hi);
                var sum = Vector256.ConvertToSingle(q0) * Vector256.Load(xb);
                sum = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(q1), Vector256.Load(xb + 8), sum);
                sum = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(q2), Vector256.Load(xb + 16), sum);
                sum = Vector256.FusedMultiplyAdd(Vector256.ConvertToSingle(q3), Vector256.Load(xb + 24), sum);
                acc = Vector256.FusedMultiplyAdd(sum, Vector256.Create(Scale(block)), acc);
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Scale(byte* block) => (float)BitConverter.UInt16BitsToHalf(*(ushort*)block);
}
