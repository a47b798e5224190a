using System.CommandLine;
using Engine.Core;
using Engine.Core.Checkpoints;

namespace Engine.Cli.Options;

/// <summary>--quantize: quantize an unquantized checkpoint's matrices at load (shared by run, serve and bench).</summary>
internal static class QuantizeOption
{
    public static Option<string?> Create() => new("--quantize")
    {
        Description = $"Quantize the matrices at load: {QuantizedCheckpoint.Choices} (q4_k: rows not a multiple of 256 become Q5_0, as llama-quantize does; tensors already quantized stay as they are)",
    };

    public static DType? Read(ParseResult parsed, Option<string?> option) =>
        parsed.GetValue(option) is string text ? QuantizedCheckpoint.ParseType(text) : null;
}
