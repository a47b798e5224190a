using System.Runtime.CompilerServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>Rotate-half RoPE (Hugging Face convention), in place.</summary>
public sealed unsafe partial class SimdBackend
{
    public void Rope(DeviceArray x, DeviceArray positions, DeviceArray invFreq, int rows, int heads, int headDim)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(headDim), "RoPE needs an even head dimension");
        int half = headDim / 2;
        Require(x, DType.F32, (long)rows * heads * headDim, nameof(x));
        Require(positions, DType.I32, rows, nameof(positions));
        Require(invFreq, DType.F32, half, nameof(invFreq));
        float* px = PointerOf<float>(x), freq = PointerOf<float>(invFreq);
        int* pos = PointerOf<int>(positions);
        ForRanges(rows, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            // The angle is the f32 product, as Hugging Face computes it (the model was trained with those
            // phases); its sine and cosine are then taken in double.
            Span<float> cos = half <= 512 ? stackalloc float[half] : new float[half];
            Span<float> sin = half <= 512 ? stackalloc float[half] : new float[half];
            for (long r = start; r < end; r++)
            {
                for (int j = 0; j < half; j++)
                {
                    double angle = pos[r] * freq[j];
                    cos[j] = (float)Math.Cos(angle);
                    sin[j] = (float)Math.Sin(angle);
                }
                for (int h = 0; h < heads; h++)
                {
                    float* v = px + (r * heads + h) * headDim;
                    for (int j = 0; j < half; j++)
                    {
                        float a = v[j], b = v[j + half];
                        v[j] = a * cos[j] - b * sin[j];
                        v[j + half] = b * cos[j] + a * sin[j];
                    }
                }
            }
        });
    }
}
