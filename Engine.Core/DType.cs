namespace Engine.Core;

/// <summary>Element types of weights, activations, KV pages and index arrays.</summary>
public enum DType
{
    F32,
    F16,
    BF16,
    /// <summary>32-bit signed integers (token ids, positions, page tables); never a weight dtype.</summary>
    I32,
}

public static class DTypes
{
    public static int SizeOf(DType t) => t switch
    {
        DType.F32 or DType.I32 => 4,
        DType.F16 or DType.BF16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    /// <summary>The name used by safetensors headers and the CLI ("F32", "BF16", ...).</summary>
    public static string SafetensorsName(DType t) => t switch
    {
        DType.F32 => "F32",
        DType.F16 => "F16",
        DType.BF16 => "BF16",
        DType.I32 => "I32",
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
