using System.Runtime.InteropServices;
using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>16 bytes of weights read as one 128-bit load: 4 F32 or 8 F16/BF16 values.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct Pack16
{
    public uint A, B, C, D;
}

/// <summary>How a matrix-vector kernel takes the dot product of one <see cref="Pack16"/> with x.</summary>
public interface IPackFormat
{
    /// <summary>Weights per pack.</summary>
    int Count { get; }
    /// <summary>sum over the pack's elements e of widen(e) * x[xBase + e].</summary>
    float Dot(Pack16 pack, ArrayView<float> x, long xBase);
    /// <summary>F32 x packs (4 floats each) one weight pack spans: 1 for F32, 2 for F16/BF16.</summary>
    int XPacks { get; }
    /// <summary>The same dot product with x already in registers: x0 holds x[0..3], x1 x[4..7] (unused for F32).</summary>
    float Dot(Pack16 pack, Pack16 x0, Pack16 x1);
}

/// <summary>Four F32 weights per pack.</summary>
public readonly struct F32Pack : IPackFormat
{
    public int Count => 4;
    public int XPacks => 1;
    public float Dot(Pack16 p, Pack16 x0, Pack16 x1) =>
        Interop.IntAsFloat(p.A) * Interop.IntAsFloat(x0.A) + Interop.IntAsFloat(p.B) * Interop.IntAsFloat(x0.B) +
        Interop.IntAsFloat(p.C) * Interop.IntAsFloat(x0.C) + Interop.IntAsFloat(p.D) * Interop.IntAsFloat(x0.D);
    public float Dot(Pack16 p, ArrayView<float> x, long i) =>
        Interop.IntAsFloat(p.A) * x[i] + Interop.IntAsFloat(p.B) * x[i + 1] +
        Interop.IntAsFloat(p.C) * x[i + 2] + Interop.IntAsFloat(p.D) * x[i + 3];
}

/// <summary>Eight BF16 weights per pack; each uint holds two, the lower index in the low half.</summary>
public readonly struct BF16Pack : IPackFormat
{
    public int Count => 8;
    public int XPacks => 2;
    public float Dot(Pack16 p, Pack16 x0, Pack16 x1) =>
        Pair(p.A, x0.A, x0.B) + Pair(p.B, x0.C, x0.D) + Pair(p.C, x1.A, x1.B) + Pair(p.D, x1.C, x1.D);

    private static float Pair(uint two, uint xLow, uint xHigh) =>
        Interop.IntAsFloat(two << 16) * Interop.IntAsFloat(xLow) + Interop.IntAsFloat(two & 0xFFFF_0000u) * Interop.IntAsFloat(xHigh);

    public float Dot(Pack16 p, ArrayView<float> x, long i) =>
        Pair(p.A, x, i) + Pair(p.B, x, i + 2) + Pair(p.C, x, i + 4) + Pair(p.D, x, i + 6);

    private static float Pair(uint two, ArrayView<float> x, long i) =>
        Interop.IntAsFloat(two << 16) * x[i] + Interop.IntAsFloat(two & 0xFFFF_0000u) * x[i + 1];
}

/// <summary>Eight F16 weights per pack; each uint holds two, the lower index in the low half.</summary>
public readonly struct F16Pack : IPackFormat
{
    public int Count => 8;
    public int XPacks => 2;
    public float Dot(Pack16 p, Pack16 x0, Pack16 x1) =>
        Pair(p.A, x0.A, x0.B) + Pair(p.B, x0.C, x0.D) + Pair(p.C, x1.A, x1.B) + Pair(p.D, x1.C, x1.D);

    private static float Pair(uint two, uint xLow, uint xHigh) =>
        HalfBits.ToFloat((ushort)(two & 0xFFFFu)) * Interop.IntAsFloat(xLow) + HalfBits.ToFloat((ushort)(two >> 16)) * Interop.IntAsFloat(xHigh);

    public float Dot(Pack16 p, ArrayView<float> x, long i) =>
        Pair(p.A, x, i) + Pair(p.B, x, i + 2) + Pair(p.C, x, i + 4) + Pair(p.D, x, i + 6);

    private static float Pair(uint two, ArrayView<float> x, long i) =>
        HalfBits.ToFloat((ushort)(two & 0xFFFFu)) * x[i] + HalfBits.ToFloat((ushort)(two >> 16)) * x[i + 1];
}
