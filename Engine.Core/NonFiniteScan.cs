using System.Numerics;
using System.Runtime.InteropServices;

namespace Engine.Core;

/// <summary>
/// Finds NaN and infinite values by their exponent bits (all ones), vectorized, in F32, F16 or BF16
/// data: weights as they are uploaded, logits before a token is chosen from them.
/// </summary>
public static class NonFiniteScan
{
    /// <summary>The index of the first element that is NaN or ±infinity, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<byte> data, DType dtype) => dtype switch
    {
        DType.F32 => IndexOf(MemoryMarshal.Cast<byte, uint>(data), 0x7F80_0000u),
        DType.F16 => IndexOf(MemoryMarshal.Cast<byte, ushort>(data), (ushort)0x7C00),
        DType.BF16 => IndexOf(MemoryMarshal.Cast<byte, ushort>(data), (ushort)0x7F80),
        _ => -1,
    };

    /// <summary>The index of the first logit that is NaN or ±infinity, or -1.</summary>
    public static int IndexOf(ReadOnlySpan<float> values) => IndexOf(MemoryMarshal.Cast<float, uint>(values), 0x7F80_0000u);

    private static int IndexOf<T>(ReadOnlySpan<T> bits, T exponent) where T : unmanaged, IBinaryInteger<T>
    {
        int start = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var mask = new Vector<T>(exponent);
            var vectors = MemoryMarshal.Cast<T, Vector<T>>(bits);
            int v = 0;
            while (v < vectors.Length && !Vector.EqualsAny(vectors[v] & mask, mask)) v++;
            start = v * Vector<T>.Count; // the scalar loop finds the element in the vector that hit, or scans the tail
        }
        for (int i = start; i < bits.Length; i++)
            if ((bits[i] & exponent) == exponent) return i;
        return -1;
    }
}
