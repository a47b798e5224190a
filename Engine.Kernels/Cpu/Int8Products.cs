using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The integer dot product the quantized kernels are built on: 32 unsigned bytes times 32 signed bytes,
/// summed in groups of 4 into 8 int32. AVX-VNNI does it in one instruction (vpdpbusd, no saturation);
/// AVX2 in two (vpmaddubsw to pairs in int16, which saturates past 32767, then vpmaddwd with ones), so on
/// AVX2 callers keep each pair's sum in range: |u| * |s| * 2 &lt;= 32767 (u &lt;= 128 with |s| &lt;= 127).
/// </summary>
internal static unsafe class Int8Products
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        AvxVnni.IsSupported ? DotVnni(u, s) : DotAvx2(u, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotVnni(Vector256<byte> u, Vector256<sbyte> s) =>
        AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<int> DotAvx2(Vector256<byte> u, Vector256<sbyte> s) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256<short>.One);

    /// <summary>Pairs of u * s in int16 (vpmaddubsw), each pair then times its int16 scale, summed to int32 (vpmaddwd): the K-quant sub-block sums with their scales.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ScaledDot(Vector256<byte> u, Vector256<sbyte> s, Vector256<short> scale) =>
        Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), scale);

    /// <summary>Low nibbles of 16 bytes then their high nibbles: the 32 weights of a Q4_0/Q5_0 block in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Nibbles16(byte* q)
    {
        var packed = Vector128.Load(q);
        var mask = Vector128.Create((byte)0x0F);
        return Vector256.Create(packed & mask, (packed.AsUInt16() >> 4).AsByte() & mask);
    }

    /// <summary>Low nibbles of 32 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Low(Vector256<byte> q) => q & Vector256.Create((byte)0x0F);

    /// <summary>High nibbles of 32 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> High(Vector256<byte> q) => (q.AsUInt16() >> 4).AsByte() & Vector256.Create((byte)0x0F);

    /// <summary>(byte &gt;&gt; <paramref name="shift"/>) &amp; <paramref name="mask"/>, moved up by <paramref name="to"/> bits, per byte.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Bits(Vector256<byte> q, int shift, byte mask, int to)
    {
        var bits = (q.AsUInt16() >> shift).AsByte() & Vector256.Create(mask);
        return (bits.AsUInt16() << to).AsByte();
    }

    /// <summary>Int16 scale vector: <paramref name="low"/> for the first 16 bytes' pairs, <paramref name="high"/> for the last 16's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Scales(int low, int high) => Vector256.Create(Vector128.Create((short)low), Vector128.Create((short)high));
}

/// <summary>How many activation rows a kernel call multiplies each decoded weight block with (a JIT-time constant).</summary>
internal interface IRowCount
{
    static abstract int N { get; }
}

internal struct OneRow : IRowCount
{
    public static int N => 1;
}

internal struct FourRows : IRowCount
{
    public static int N => 4;
}
