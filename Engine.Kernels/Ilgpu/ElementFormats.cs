using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// How a kernel widens a stored element to F32 and narrows F32 back. Kernels are generic over a format
/// struct so that one kernel source serves F32 (float), F16 and BF16 (both raw ushort bits); the
/// struct is resolved statically, so the call costs nothing on the device.
/// </summary>
public interface IElementFormat<T> where T : unmanaged
{
    float Widen(T value);
    T Narrow(float value);
}

/// <summary>F32 stored as float.</summary>
public readonly struct F32Format : IElementFormat<float>
{
    public float Widen(float value) => value;
    public float Narrow(float value) => value;
}

/// <summary>IEEE binary16 stored as raw ushort bits (converted with integer ops: works without device fp16).</summary>
public readonly struct F16Format : IElementFormat<ushort>
{
    public float Widen(ushort value) => HalfBits.ToFloat(value);
    public ushort Narrow(float value) => HalfBits.FromFloat(value);
}

/// <summary>bfloat16 stored as raw ushort bits: the upper half of a float32.</summary>
public readonly struct BF16Format : IElementFormat<ushort>
{
    public float Widen(ushort value) => Interop.IntAsFloat((uint)value << 16);

    /// <summary>Round to nearest even; NaN stays a quiet NaN.</summary>
    public ushort Narrow(float value)
    {
        uint u = Interop.FloatAsInt(value);
        if ((u & 0x7FFF_FFFFu) > 0x7F80_0000u) return (ushort)((u >> 16) | 0x40u);
        u += 0x7FFFu + ((u >> 16) & 1u);
        return (ushort)(u >> 16);
    }
}
