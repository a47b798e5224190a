using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Cpu;

/// <summary>
/// A vector of floats of one hardware width. Kernels are written once, generic over this interface and
/// <see cref="IElementType"/>; the JIT specializes each (width, element type) pair, so the static calls inline.
/// </summary>
internal unsafe interface ISimdFloat<TSelf> where TSelf : unmanaged, ISimdFloat<TSelf>
{
    static abstract int Count { get; }
    static abstract TSelf Zero { get; }
    static abstract TSelf Splat(float value);
    static abstract TSelf LoadF32(float* p);
    /// <summary>Widens Count bf16 values in registers (shift into the upper half of each lane).</summary>
    static abstract TSelf LoadBf16(ushort* p);
    /// <summary>Widens Count f16 values in registers (exponent rebias by a multiply; inf/NaN kept).</summary>
    static abstract TSelf LoadF16(ushort* p);
    /// <summary>
    /// Loads 2 * Count bf16 values as two float vectors without a cross-lane widen: the even-indexed
    /// elements (each 32-bit lane's low half shifted up) and the odd-indexed ones (the high half, masked).
    /// </summary>
    static abstract void LoadBf16Pairs(ushort* p, out TSelf even, out TSelf odd);
    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Multiply(TSelf a, TSelf b);
    /// <summary>a * b + c, fused.</summary>
    static abstract TSelf MultiplyAdd(TSelf a, TSelf b, TSelf c);
    static abstract float Sum(TSelf v);
    static abstract void Store(TSelf v, float* p);
    /// <summary>The hardware maximum (no IEEE NaN/-0 fix-ups: callers have neither).</summary>
    static abstract TSelf Max(TSelf a, TSelf b);
    /// <summary>
    /// 2^k for lanes v = 1.5 * 2^23 + k (a float whose low mantissa bits hold the integer k, k in
    /// [-126, 127]): k shifted into the exponent field, no float-to-int conversion.
    /// </summary>
    static abstract TSelf Pow2OfLowBits(TSelf v);
}

/// <summary>Shared bit tricks for widening f16 lanes.</summary>
internal static class HalfBits
{
    /// <summary>2^112: moves an f16 exponent (bias 15) placed in an f32 (bias 127) to its true value.</summary>
    public const uint RebiasMultiplier = 0x7780_0000;
}

/// <summary>AVX-512: 16 floats.</summary>
internal readonly unsafe struct Simd512 : ISimdFloat<Simd512>
{
    public readonly Vector512<float> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Simd512(Vector512<float> v) => V = v;

    public static int Count => Vector512<float>.Count;
    public static Simd512 Zero => default;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512 Splat(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512 LoadF32(float* p) => new(Vector512.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd512 LoadBf16(ushort* p) => new(Vector512.ShiftLeft(Widen(p), 16).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd512 LoadF16(ushort* p)
    {
        Vector512<uint> h = Widen(p);
        Vector512<uint> magnitude = h & Vector512.Create(0x7FFFu);
        Vector512<uint> sign = Vector512.ShiftLeft(h & Vector512.Create(0x8000u), 16);
        Vector512<float> finite = Vector512.ShiftLeft(magnitude, 13).AsSingle() * Vector512.Create(HalfBits.RebiasMultiplier).AsSingle();
        Vector512<uint> special = Vector512.ShiftLeft(magnitude, 13) | Vector512.Create(0x7F80_0000u);
        Vector512<uint> isSpecial = Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(0x7C00u));
        return new((Vector512.ConditionalSelect(isSpecial, special, finite.AsUInt32()) | sign).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> Widen(ushort* p) => Avx512F.IsSupported
        ? Avx512F.ConvertToVector512UInt32(Vector256.Load(p))
        : Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBf16Pairs(ushort* p, out Simd512 even, out Simd512 odd)
    {
        Vector512<uint> pairs = Vector512.Load((uint*)p);
        even = new(Vector512.ShiftLeft(pairs, 16).AsSingle());
        odd = new((pairs & Vector512.Create(0xFFFF_0000u)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512 Add(Simd512 a, Simd512 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512 Multiply(Simd512 a, Simd512 b) => new(a.V * b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512 MultiplyAdd(Simd512 a, Simd512 b, Simd512 c) => new(Vector512.FusedMultiplyAdd(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Simd512 v) => Vector512.Sum(v.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Simd512 v, float* p) => v.V.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd512 Max(Simd512 a, Simd512 b) => new(Vector512.MaxNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd512 Pow2OfLowBits(Simd512 v) => new((Vector512.ShiftLeft(v.V.AsInt32(), 23) + Vector512.Create(127 << 23)).AsSingle());
}

/// <summary>AVX2 (or portable): 8 floats.</summary>
internal readonly unsafe struct Simd256 : ISimdFloat<Simd256>
{
    public readonly Vector256<float> V;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public Simd256(Vector256<float> v) => V = v;

    public static int Count => Vector256<float>.Count;
    public static Simd256 Zero => default;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256 Splat(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256 LoadF32(float* p) => new(Vector256.Load(p));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd256 LoadBf16(ushort* p) => new(Vector256.ShiftLeft(Widen(p), 16).AsSingle());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd256 LoadF16(ushort* p)
    {
        Vector256<uint> h = Widen(p);
        Vector256<uint> magnitude = h & Vector256.Create(0x7FFFu);
        Vector256<uint> sign = Vector256.ShiftLeft(h & Vector256.Create(0x8000u), 16);
        Vector256<float> finite = Vector256.ShiftLeft(magnitude, 13).AsSingle() * Vector256.Create(HalfBits.RebiasMultiplier).AsSingle();
        Vector256<uint> special = Vector256.ShiftLeft(magnitude, 13) | Vector256.Create(0x7F80_0000u);
        Vector256<uint> isSpecial = Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x7C00u));
        return new((Vector256.ConditionalSelect(isSpecial, special, finite.AsUInt32()) | sign).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Widen(ushort* p) => Avx2.IsSupported
        ? Avx2.ConvertToVector256Int32(Vector128.Load(p)).AsUInt32()
        : Vector256.Create(Vector128.WidenLower(Vector128.Load(p)), Vector128.WidenUpper(Vector128.Load(p)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadBf16Pairs(ushort* p, out Simd256 even, out Simd256 odd)
    {
        Vector256<uint> pairs = Vector256.Load((uint*)p);
        even = new(Vector256.ShiftLeft(pairs, 16).AsSingle());
        odd = new((pairs & Vector256.Create(0xFFFF_0000u)).AsSingle());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256 Add(Simd256 a, Simd256 b) => new(a.V + b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256 Multiply(Simd256 a, Simd256 b) => new(a.V * b.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256 MultiplyAdd(Simd256 a, Simd256 b, Simd256 c) => new(Vector256.FusedMultiplyAdd(a.V, b.V, c.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Simd256 v) => Vector256.Sum(v.V);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Simd256 v, float* p) => v.V.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Simd256 Max(Simd256 a, Simd256 b) => new(Vector256.MaxNative(a.V, b.V));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Simd256 Pow2OfLowBits(Simd256 v) => new((Vector256.ShiftLeft(v.V.AsInt32(), 23) + Vector256.Create(127 << 23)).AsSingle());
}
