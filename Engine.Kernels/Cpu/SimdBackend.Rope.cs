using System.Runtime.CompilerServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>Rotate-half RoPE (Hugging Face convention), in place.</summary>
public sealed unsafe partial class SimdBackend
{
    /// <summary>The last call's angles (a step rotates q and k of every layer at the same positions).</summary>
    private RopeTable? _ropeTable;

    public void Rope(DeviceArray x, DeviceArray positions, DeviceArray invFreq, int rows, int heads, int headDim)
    {
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentOutOfRangeException(nameof(headDim), "RoPE needs an even head dimension");
        int half = headDim / 2;
        Require(x, DType.F32, (long)rows * heads * headDim, nameof(x));
        Require(positions, DType.I32, rows, nameof(positions));
        Require(invFreq, DType.F32, half, nameof(invFreq));
        float* px = PointerOf<float>(x);
        var table = RopeTable.For(_ropeTable, PointerOf<int>(positions), rows, PointerOf<float>(invFreq), half);
        _ropeTable = table;
        float[] cosines = table.Cos, sines = table.Sin;
        ForRanges(rows, 1, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long r = start; r < end; r++)
            {
                var cos = new ReadOnlySpan<float>(cosines, (int)r * half, half);
                var sin = new ReadOnlySpan<float>(sines, (int)r * half, half);
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
