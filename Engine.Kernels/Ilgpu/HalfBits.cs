using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// IEEE binary16 &lt;-&gt; float32 on raw bits, usable inside kernels on every ILGPU backend (System.Half
/// does not compile in kernels, and OpenCL devices may lack fp16).
/// </summary>
public static class HalfBits
{
    public static float ToFloat(ushort h)
    {
        uint sign = ((uint)h & 0x8000u) << 16;
        uint exponent = ((uint)h >> 10) & 0x1Fu;
        uint mantissa = (uint)h & 0x3FFu;
        if (exponent == 0)
        {
            // Zero or subnormal: mantissa * 2^-24 is exact in float32.
            float magnitude = mantissa * 5.9604644775390625e-8f;
            return sign != 0 ? -magnitude : magnitude;
        }
        if (exponent == 31) return Interop.IntAsFloat(sign | 0x7F80_0000u | (mantissa << 13));
        return Interop.IntAsFloat(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    }

    /// <summary>Round to nearest even, overflow to infinity, NaN to a quiet NaN.</summary>
    public static ushort FromFloat(float value)
    {
        uint x = Interop.FloatAsInt(value);
        uint sign = (x >> 16) & 0x8000u;
        int exponent = (int)((x >> 23) & 0xFFu);
        uint mantissa = x & 0x7F_FFFFu;
        if (exponent == 255) return (ushort)(sign | 0x7C00u | (mantissa != 0 ? 0x200u : 0u));
        int e = exponent - 112; // rebias 127 -> 15
        if (e >= 31) return (ushort)(sign | 0x7C00u);
        if (e <= 0)
        {
            if (e < -10) return (ushort)sign;
            uint full = mantissa | 0x80_0000u;
            int shift = 14 - e;
            uint half = full >> shift;
            uint rest = full & ((1u << shift) - 1u);
            uint halfway = 1u << (shift - 1);
            if (rest > halfway || (rest == halfway && (half & 1u) != 0)) half++;
            return (ushort)(sign | half);
        }
        uint bits = ((uint)e << 10) | (mantissa >> 13);
        uint remainder = mantissa & 0x1FFFu;
        // A carry out of the mantissa correctly bumps the exponent (up to infinity).
        if (remainder > 0x1000u || (remainder == 0x1000u && (bits & 1u) != 0)) bits++;
        return (ushort)(sign | bits);
    }
}
