using Engine.Core;

namespace Engine.Kernels;

/// <summary>
/// Which kernels a backend runs. ILGPU: Fast uses each fast kernel once it has matched its portable twin on
/// the device (a self-check on first use); Portable never runs a fast kernel. SIMD CPU: Fast multiplies
/// block-quantized weights with activations rounded to 8 bits (integer dot products, as llama.cpp);
/// Portable widens the weights to float and keeps the activations in float (exact, several times slower).
/// </summary>
public enum KernelSet
{
    Fast,
    Portable,
}

public static class KernelSets
{
    public const string Choices = "fast|portable";

    public static KernelSet Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "fast" => KernelSet.Fast,
        "portable" => KernelSet.Portable,
        _ => throw new EngineException($"--kernels: '{text}' is not one of {Choices}"),
    };

    public static string Name(this KernelSet set) => set == KernelSet.Fast ? "fast" : "portable";
}

/// <summary>The self-check of one fast kernel on one device: passed, or why the portable twin runs instead.</summary>
public sealed record KernelCheck(string Kernel, string PortableTwin, bool Passed, string Detail);
