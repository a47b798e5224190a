namespace Engine.Core;

/// <summary>Element types of weights, activations, KV pages and index arrays.</summary>
public enum DType
{
    F32,
    F16,
    BF16,
    /// <summary>32-bit signed integers (token ids, positions, page tables); never a weight dtype.</summary>
    I32,
    /// <summary>
    /// ggml's Q8_0 blocks: each 32 consecutive weights of a row as an f16 scale d and 32 int8 q (34 bytes),
    /// weight = d * q. A weight dtype only; lengths count weights, views start on block boundaries.
    /// </summary>
    Q8_0,
    /// <summary>ggml's Q4_0: 32 weights as an f16 scale d and 16 bytes of 4-bit q (18 bytes), weight = d * (q - 8).</summary>
    Q4_0,
    /// <summary>ggml's Q5_0: 32 weights as an f16 scale d, 32 high bits and 16 bytes of low nibbles (22 bytes), weight = d * (q - 16).</summary>
    Q5_0,
    /// <summary>ggml's Q4_K: super-blocks of 256 weights (8 sub-blocks of 32 with 6-bit scales and mins, 144 bytes).</summary>
    Q4_K,
    /// <summary>ggml's Q5_K: as Q4_K with a fifth bit per weight (176 bytes per 256).</summary>
    Q5_K,
    /// <summary>ggml's Q6_K: super-blocks of 256 weights, 16 sub-blocks of 16 with int8 scales, 6-bit q (210 bytes).</summary>
    Q6_K,
}

public static class DTypes
{
    /// <summary>Bytes per element of a plain dtype (block-quantized dtypes have none: see <see cref="ByteCount"/>).</summary>
    public static int SizeOf(DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t), $"{t} has no per-element size"),
    };

    /// <summary>Whether the dtype stores weights in blocks (Q8_0) rather than one value per element.</summary>
    public static bool IsBlockQuantized(DType t) => t is DType.Q8_0 or DType.Q4_0 or DType.Q5_0 or DType.Q4_K or DType.Q5_K or DType.Q6_K;

    /// <summary>The block-quantized weight dtypes, in the order the CLI lists them.</summary>
    public static IReadOnlyList<DType> BlockQuantized { get; } = [DType.Q8_0, DType.Q4_0, DType.Q5_0, DType.Q4_K, DType.Q5_K, DType.Q6_K];

    /// <summary>(elements per block, bytes per block): (1, size) for plain dtypes.</summary>
    public static (int Elements, int Bytes) BlockLayout(DType t) => t switch
    {
        DType.Q8_0 => (32, 34),
        DType.Q4_0 => (32, 18),
        DType.Q5_0 => (32, 22),
        DType.Q4_K => (256, 144),
        DType.Q5_K => (256, 176),
        DType.Q6_K => (256, 210),
        _ => (1, SizeOf(t)),
    };

    /// <summary>Bytes of <paramref name="elements"/> elements (a whole number of blocks for block-quantized dtypes).</summary>
    public static long ByteCount(DType t, long elements)
    {
        var (block, bytes) = BlockLayout(t);
        if (elements % block != 0) throw new ArgumentException($"{elements} elements is not a whole number of {t} blocks of {block}");
        return elements / block * bytes;
    }

    /// <summary>The name used by safetensors headers and the CLI ("F32", "BF16", ...).</summary>
    public static string SafetensorsName(DType t) => t switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.I32 => "I32",
        DType.Q8_0 => "Q8_0",
        DType.Q4_0 => "Q4_0",
        DType.Q5_0 => "Q5_0",
        DType.Q4_K => "Q4_K",
        DType.Q5_K => "Q5_K",
        DType.Q6_K => "Q6_K",
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>Parses "bf16", "bfloat16", "f16", "float16", "fp16", "f32", "float32", "fp32" (any case).</summary>
    public static bool TryParse(string? s, out DType t)
    {
        switch (s?.Trim().ToLowerInvariant())
        {
            case "f32" or "fp32" or "float32" or "float": t = DType.F32; return true;
            case "f16" or "fp16" or "float16" or "half": t = DType.F16; return true;
            case "bf16" or "bfloat16": t = DType.BF16; return true;
            default: t = DType.F32; return false;
        }
    }
}
