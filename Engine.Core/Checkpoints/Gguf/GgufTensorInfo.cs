namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// One tensor as a GGUF file declares it. <see cref="Dims"/> are in ggml order (innermost first:
/// a [rows, columns] matrix is [columns, rows]); <see cref="Offset"/> is relative to the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type, long Offset, long ByteLength)
{
    public long ElementCount => Dims.Aggregate(1L, (a, b) => a * b);

    /// <summary>The shape in row-major order (outermost first), as Hugging Face and numpy write it.</summary>
    public long[] Shape => Dims.Reverse().ToArray();
}
