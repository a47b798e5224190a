using System.Runtime.CompilerServices;

namespace Engine.Kernels.Cpu;

/// <summary>A block-quantized weight type's row kernel against <see cref="Q8Activations"/>, for the linear driver.</summary>
internal unsafe interface IQuantizedRowKernel
{
    /// <summary>Activation block: 32 (Q8_0-style) or 256 (Q8_K-style with per-16 sums).</summary>
    static abstract int ActivationBlock { get; }
    /// <summary>output[k * stride] = weight row w · activation row r0 + k, k &lt; TRows.N.</summary>
    static abstract void Dot<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount;
}

internal unsafe struct Q8_0RowKernel : IQuantizedRowKernel
{
    public static int ActivationBlock => 32;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount =>
        Block32Kernels.Dot<Q8_0Format, TRows>(w, x, r0, output, stride);
}

internal unsafe struct Q4_0RowKernel : IQuantizedRowKernel
{
    public static int ActivationBlock => 32;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount =>
        Block32Kernels.Dot<Q4_0Format, TRows>(w, x, r0, output, stride);
}

internal unsafe struct Q5_0RowKernel : IQuantizedRowKernel
{
    public static int ActivationBlock => 32;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount =>
        Block32Kernels.Dot<Q5_0Format, TRows>(w, x, r0, output, stride);
}

internal unsafe struct Q4_KRowKernel : IQuantizedRowKernel
{
    public static int ActivationBlock => 256;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount =>
        KQuantKernels.DotK4<Q4_KFormat, TRows>(w, x, r0, output, stride);
}

internal unsafe struct Q5_KRowKernel : IQuantizedRowKernel
{
    public static int ActivationBlock => 256;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount =>
        KQuantKernels.DotK4<Q5_KFormat, TRows>(w, x, r0, output, stride);
}

internal unsafe struct Q6_KRowKernel : IQuantizedRowKernel
{
    public static int ActivationBlock => 256;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Dot<TRows>(byte* w, in Q8Activations x, int r0, float* output, long stride) where TRows : IRowCount =>
        KQuantKernels.DotQ6_K<TRows>(w, x, r0, output, stride);
}
