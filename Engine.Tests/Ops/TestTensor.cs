using Engine.Core;
using Engine.Kernels;

namespace Engine.Tests.Ops;

/// <summary>
/// Host test data in one dtype: the raw values a backend receives (float, or f16/bf16 bits) and the
/// exact same values widened to double for the reference.
/// </summary>
public sealed class TestTensor
{
    private TestTensor(DType dtype, float[]? floats, ushort[]? bits, double[] values)
    {
        DType = dtype; Floats = floats; Bits = bits; Values = values;
    }

    public DType DType { get; }
    public float[]? Floats { get; }
    public ushort[]? Bits { get; }
    public double[] Values { get; }
    public int Length => Values.Length;

    /// <summary>Random values with magnitude in [0.1, 1] * scale and random sign: never zero.</summary>
    public static TestTensor Random(DType dtype, int length, Random rng, double scale = 1.0)
    {
        var floats = new float[length];
        for (int i = 0; i < length; i++)
        {
            double magnitude = (0.1 + 0.9 * rng.NextDouble()) * scale;
            floats[i] = (float)(rng.Next(2) == 0 ? -magnitude : magnitude);
        }
        return FromFloats(dtype, floats);
    }

    /// <summary>The given values rounded to dtype (round to nearest even).</summary>
    public static TestTensor FromFloats(DType dtype, float[] floats)
    {
        switch (dtype)
        {
            case DType.F32:
                return new TestTensor(dtype, floats, null, floats.Select(f => (double)f).ToArray());
            case DType.F16:
            {
                ushort[] bits = floats.Select(f => BitConverter.HalfToUInt16Bits((Half)f)).ToArray();
                return new TestTensor(dtype, null, bits, bits.Select(b => (double)BitConverter.UInt16BitsToHalf(b)).ToArray());
            }
            case DType.BF16:
            {
                ushort[] bits = floats.Select(BFloat16.FromFloat).ToArray();
                return new TestTensor(dtype, null, bits, bits.Select(b => (double)BFloat16.ToFloat(b)).ToArray());
            }
            default: throw new ArgumentException($"{dtype} is not a float dtype");
        }
    }

    /// <summary>What storing value in dtype gives back (the reference for narrowing writes).</summary>
    public static double RoundTo(DType dtype, float value) => dtype switch
    {
        DType.F32 => value,
        DType.F16 => (double)(Half)value,
        DType.BF16 => BFloat16.ToFloat(BFloat16.FromFloat(value)),
        _ => throw new ArgumentException($"{dtype} is not a float dtype"),
    };

    public DeviceArray ToDevice(IBackend backend)
    {
        var array = backend.Allocate(DType, Length);
        UploadTo(backend, array);
        return array;
    }

    public void UploadTo(IBackend backend, DeviceArray array, long offset = 0)
    {
        if (Floats is not null) backend.Upload<float>(array, Floats, offset);
        else backend.Upload<ushort>(array, Bits!, offset);
    }

    /// <summary>Downloads length elements of a float-dtype array widened to double.</summary>
    public static double[] Download(IBackend backend, DeviceArray array, long length)
    {
        if (array.DType == DType.F32)
        {
            var floats = new float[length];
            backend.Download<float>(array, floats);
            return floats.Select(f => (double)f).ToArray();
        }
        var bits = new ushort[length];
        backend.Download<ushort>(array, bits);
        return array.DType == DType.F16
            ? bits.Select(b => (double)BitConverter.UInt16BitsToHalf(b)).ToArray()
            : bits.Select(b => (double)BFloat16.ToFloat(b)).ToArray();
    }

    public static DeviceArray Ints(IBackend backend, int[] values)
    {
        var array = backend.Allocate(DType.I32, values.Length);
        backend.Upload<int>(array, values);
        return array;
    }
}
