namespace Engine.Core.Checkpoints.Gguf;

/// <summary>ggml's tensor element types, by the numbers GGUF files store (ids of removed types are absent).</summary>
public enum GgmlType : uint
{
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
}

/// <summary>Block layout of each <see cref="GgmlType"/>: elements per block and bytes per block.</summary>
public static class GgmlTypes
{
    /// <summary>Elements per block of the 256-element "K" super-block types.</summary>
    public const int SuperBlock = 256;

    /// <summary>(elements per block, bytes per block), or null for an id that is no ggml type.</summary>
    public static (int Elements, int Bytes)? Layout(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.I32 => (1, 4),
        GgmlType.F16 or GgmlType.BF16 or GgmlType.I16 => (1, 2),
        GgmlType.I8 => (1, 1),
        GgmlType.I64 or GgmlType.F64 => (1, 8),
        GgmlType.Q4_0 or GgmlType.IQ4_NL => (32, 18),
        GgmlType.Q4_1 => (32, 20),
        GgmlType.Q5_0 => (32, 22),
        GgmlType.Q5_1 => (32, 24),
        GgmlType.Q8_0 => (32, 34),
        GgmlType.Q8_1 => (32, 36),
        GgmlType.MXFP4 => (32, 17),
        GgmlType.Q2_K => (SuperBlock, 84),
        GgmlType.Q3_K or GgmlType.IQ3_S => (SuperBlock, 110),
        GgmlType.Q4_K => (SuperBlock, 144),
        GgmlType.Q5_K => (SuperBlock, 176),
        GgmlType.Q6_K => (SuperBlock, 210),
        GgmlType.Q8_K => (SuperBlock, 292),
        GgmlType.IQ2_XXS or GgmlType.TQ2_0 => (SuperBlock, 66),
        GgmlType.IQ2_XS => (SuperBlock, 74),
        GgmlType.IQ3_XXS => (SuperBlock, 98),
        GgmlType.IQ1_S => (SuperBlock, 50),
        GgmlType.IQ2_S => (SuperBlock, 82),
        GgmlType.IQ4_XS => (SuperBlock, 136),
        GgmlType.IQ1_M => (SuperBlock, 56),
        GgmlType.TQ1_0 => (SuperBlock, 54),
        _ => null,
    };

    /// <summary>The types the engine can read as weights (dequantize or use directly).</summary>
    public static bool IsSupported(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16
        or GgmlType.Q8_0 or GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    public const string SupportedList = "F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K";

    /// <summary>The type's name as llama.cpp prints it, or its number when it is no known type.</summary>
    public static string Name(GgmlType type) => Layout(type) is null ? $"#{(uint)type}" : type.ToString();

    /// <summary>Bytes of a row of <paramref name="elements"/> elements (a multiple of the block size).</summary>
    public static long RowBytes(GgmlType type, long elements)
    {
        var (block, bytes) = Layout(type) ?? throw new ArgumentOutOfRangeException(nameof(type));
        return elements / block * bytes;
    }
}
