using System.CommandLine;
using Engine.Kernels;

namespace Engine.Cli.Options;

/// <summary>`--kernels fast|portable`: which ILGPU kernel set run, bench (and any command that loads a model on a GPU) use.</summary>
internal static class KernelSetOption
{
    public static Option<string> Create() => new("--kernels")
    {
        Description = $"Kernels: {KernelSets.Choices} (ILGPU fast: each fast kernel is checked against its portable twin on first use and replaced by it on a mismatch; cpu portable: quantized weights multiply float activations, exact but slow, instead of 8-bit ones)",
        DefaultValueFactory = _ => "fast",
    };

    public static KernelSet Read(ParseResult parsed, Option<string> option) => KernelSets.Parse(parsed.GetValue(option)!);
}
