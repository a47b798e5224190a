using System.Runtime.CompilerServices;
using Engine.Core;

namespace Engine.Kernels.Cpu;

/// <summary>
/// How one storage dtype (weights, KV pages) is read as floats: vector loads widen in registers, never
/// through a widened copy in memory. Indices are in elements from a base pointer.
/// </summary>
internal unsafe interface IElementType
{
    static abstract DType DType { get; }
    static abstract TVec Load<TVec>(void* data, long index) where TVec : unmanaged, ISimdFloat<TVec>;
    static abstract float Read(void* data, long index);
    /// <summary>Address of element <paramref name="index"/>, for prefetching (which never faults, even past the end).</summary>
    static abstract void* Address(void* data, long index);
    static abstract void Write(void* data, long index, float value);
}

internal readonly unsafe struct F32Element : IElementType
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* Address(void* data, long index) => (float*)data + index;
    public static DType DType => DType.F32;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Load<TVec>(void* data, long index) where TVec : unmanaged, ISimdFloat<TVec> => TVec.LoadF32((float*)data + index);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Read(void* data, long index) => ((float*)data)[index];
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(void* data, long index, float value) => ((float*)data)[index] = value;
}

internal readonly unsafe struct Bf16Element : IElementType
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* Address(void* data, long index) => (ushort*)data + index;
    public static DType DType => DType.BF16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Load<TVec>(void* data, long index) where TVec : unmanaged, ISimdFloat<TVec> => TVec.LoadBf16((ushort*)data + index);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Read(void* data, long index) => BFloat16.ToFloat(((ushort*)data)[index]);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(void* data, long index, float value) => ((ushort*)data)[index] = BFloat16.FromFloat(value);
}

internal readonly unsafe struct F16Element : IElementType
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* Address(void* data, long index) => (Half*)data + index;
    public static DType DType => DType.F16;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TVec Load<TVec>(void* data, long index) where TVec : unmanaged, ISimdFloat<TVec> => TVec.LoadF16((ushort*)data + index);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Read(void* data, long index) => (float)((Half*)data)[index];
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(void* data, long index, float value) => ((Half*)data)[index] = (Half)value;
}

/// <summary>An op body generic over vector width and storage dtype; <see cref="KernelDispatch"/> picks both.</summary>
internal interface ITypedKernel
{
    void Run<TVec, TElem>() where TVec : unmanaged, ISimdFloat<TVec> where TElem : unmanaged, IElementType;
}

internal static class KernelDispatch
{
    /// <summary>AVX-512 when the JIT accelerates 512-bit vectors, else 256-bit.</summary>
    public static readonly bool Use512 = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated;

    public static void Run<TKernel>(ref TKernel kernel, DType elementType) where TKernel : struct, ITypedKernel
    {
        switch (elementType)
        {
            case DType.F32: if (Use512) kernel.Run<Simd512, F32Element>(); else kernel.Run<Simd256, F32Element>(); break;
            case DType.BF16: if (Use512) kernel.Run<Simd512, Bf16Element>(); else kernel.Run<Simd256, Bf16Element>(); break;
            case DType.F16: if (Use512) kernel.Run<Simd512, F16Element>(); else kernel.Run<Simd256, F16Element>(); break;
            default: throw new ArgumentException($"{elementType} is not a weight/KV element type");
        }
    }
}
