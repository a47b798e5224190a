using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>How attention widens one 16-byte load of a K/V row (<see cref="Pack16"/>) into F32 in shared memory.</summary>
internal interface IKvPackFormat
{
    /// <summary>Elements per pack.</summary>
    int Count { get; }
    /// <summary>target[index + e] = element e of the pack, widened.</summary>
    void Widen(Pack16 pack, ArrayView<float> target, int index);
}

/// <summary>Four F32 elements per pack.</summary>
internal readonly struct F32KvPack : IKvPackFormat
{
    public int Count => 4;

    public void Widen(Pack16 p, ArrayView<float> target, int index)
    {
        target[index] = Interop.IntAsFloat(p.A);
        target[index + 1] = Interop.IntAsFloat(p.B);
        target[index + 2] = Interop.IntAsFloat(p.C);
        target[index + 3] = Interop.IntAsFloat(p.D);
    }
}

/// <summary>Eight BF16 elements per pack, two per word (the lower index in the low half).</summary>
internal readonly struct BF16KvPack : IKvPackFormat
{
    public int Count => 8;

    public void Widen(Pack16 p, ArrayView<float> target, int index)
    {
        Pair(p.A, target, index);
        Pair(p.B, target, index + 2);
        Pair(p.C, target, index + 4);
        Pair(p.D, target, index + 6);
    }

    private static void Pair(uint two, ArrayView<float> target, int index)
    {
        target[index] = Interop.IntAsFloat(two << 16);
        target[index + 1] = Interop.IntAsFloat(two & 0xFFFF_0000u);
    }
}

/// <summary>Eight F16 elements per pack, two per word (the lower index in the low half).</summary>
internal readonly struct F16KvPack : IKvPackFormat
{
    public int Count => 8;

    public void Widen(Pack16 p, ArrayView<float> target, int index)
    {
        Pair(p.A, target, index);
        Pair(p.B, target, index + 2);
        Pair(p.C, target, index + 4);
        Pair(p.D, target, index + 6);
    }

    private static void Pair(uint two, ArrayView<float> target, int index)
    {
        target[index] = HalfBits.ToFloat((ushort)(two & 0xFFFFu));
        target[index + 1] = HalfBits.ToFloat((ushort)(two >> 16));
    }
}
