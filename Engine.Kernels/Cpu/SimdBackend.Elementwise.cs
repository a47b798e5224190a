using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>Element-wise ops: the residual add, SiLU(gate) * up, and argmax.</summary>
public sealed unsafe partial class SimdBackend
{
    /// <summary>Span-sized piece of a long range (TensorPrimitives takes int-length spans).</summary>
    private const int SpanChunk = 1 << 20;

    public void Add(DeviceArray x, DeviceArray y, long count)
    {
        Require(x, DType.F32, count, nameof(x));
        Require(y, DType.F32, count, nameof(y));
        float* px = PointerOf<float>(x), py = PointerOf<float>(y);
        ForRanges(count, MinElementsPerTask, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            for (long i = start; i < end; i += SpanChunk)
            {
                int n = (int)Math.Min(SpanChunk, end - i);
                var dst = new Span<float>(px + i, n);
                TensorPrimitives.Add(dst, new ReadOnlySpan<float>(py + i, n), dst);
            }
        });
    }

    public void SiluMul(DeviceArray gate, DeviceArray up, DeviceArray output, long count)
    {
        Require(gate, DType.F32, count, nameof(gate));
        Require(up, DType.F32, count, nameof(up));
        Require(output, DType.F32, count, nameof(output));
        float* pg = PointerOf<float>(gate), pu = PointerOf<float>(up), po = PointerOf<float>(output);
        ForRanges(count, MinElementsPerTask, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (start, end) =>
        {
            // silu(g) * u = sigmoid(g) * g * u, built in a small stack buffer so output may alias gate.
            const int Piece = 1024;
            Span<float> sigmoid = stackalloc float[Piece];
            for (long i = start; i < end; i += Piece)
            {
                int n = (int)Math.Min(Piece, end - i);
                var g = new ReadOnlySpan<float>(pg + i, n);
                var s = sigmoid[..n];
                TensorPrimitives.Sigmoid(g, s);
                TensorPrimitives.Multiply(s, g, s);
                TensorPrimitives.Multiply(s, new ReadOnlySpan<float>(pu + i, n), new Span<float>(po + i, n));
            }
        });
    }

    public int Argmax(DeviceArray x, int count)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), "argmax of an empty range");
        Require(x, DType.F32, count, nameof(x));
        return IndexOfMax(PointerOf<float>(x), count);
    }

    public void ArgmaxRows(DeviceArray x, int rows, int count, DeviceArray output)
    {
        if (count <= 0 || rows < 0) throw new ArgumentOutOfRangeException(nameof(count), $"argmax of {rows} rows of {count}");
        Require(x, DType.F32, (long)rows * count, nameof(x));
        Require(output, DType.I32, rows, nameof(output));
        float* px = PointerOf<float>(x);
        int* po = PointerOf<int>(output);
        ForRanges(rows, Math.Max(1, MinElementsPerTask / count), (start, end) =>
        {
            for (long r = start; r < end; r++) po[r] = IndexOfMax(px + r * count, count);
        });
    }

    /// <summary>Two vectorized passes: the maximum, then its first occurrence (so ties go to the lowest index).</summary>
    private static int IndexOfMax(float* x, int count)
    {
        var values = new ReadOnlySpan<float>(x, count);
        return values.IndexOf(TensorPrimitives.Max(values));
    }
}
