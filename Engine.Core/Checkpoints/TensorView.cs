namespace Engine.Core.Checkpoints;

/// <summary>
/// A read-only, zero-copy view of one tensor's bytes inside a memory-mapped checkpoint file. Valid
/// while the <see cref="ICheckpoint"/> that produced it is alive.
/// </summary>
public readonly unsafe struct TensorView
{
    private readonly byte* _data;

    public TensorView(string name, string file, DType dtype, long[] shape, byte* data, long byteLength)
    {
        Name = name; File = file; DType = dtype; Shape = shape; _data = data; ByteLength = byteLength;
    }

    public string Name { get; }
    /// <summary>The file the tensor lives in (for error messages).</summary>
    public string File { get; }
    public DType DType { get; }
    public long[] Shape { get; }
    public long ByteLength { get; }
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>The tensor's raw little-endian bytes. Tensors over 2 GiB are read with <see cref="Slice"/>.</summary>
    public ReadOnlySpan<byte> Bytes => ByteLength <= int.MaxValue
        ? new ReadOnlySpan<byte>(_data, (int)ByteLength)
        : throw new EngineException($"tensor {Name} in {File} is over 2 GiB; read it in slices");

    public ReadOnlySpan<byte> Slice(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > ByteLength) throw new ArgumentOutOfRangeException(nameof(offset));
        return new ReadOnlySpan<byte>(_data + offset, length);
    }
}

/// <summary>A loaded, validated checkpoint (single or sharded safetensors) that hands out tensor views.</summary>
public interface ICheckpoint : IDisposable
{
    IReadOnlyCollection<string> TensorNames { get; }
    bool TryGet(string name, out TensorView tensor);
    /// <summary>The tensor, or an <see cref="EngineException"/> naming it as missing.</summary>
    TensorView Get(string name);
}
