using System.Runtime.InteropServices;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Checkpoints;

/// <summary>
/// A checkpoint whose matrices (projections, embeddings, output head: every 2-D tensor with rows a whole
/// number of blocks) are quantized on first use, for `--quantize` on safetensors models; 1-D tensors
/// (norms, biases) pass through. Quantized tensors live in native memory until Dispose; the inner
/// checkpoint is not disposed (its owner does that).
/// </summary>
public sealed unsafe class QuantizedCheckpoint : ICheckpoint
{
    private readonly ICheckpoint _inner;
    private readonly Dictionary<string, TensorView> _quantized = new(StringComparer.Ordinal);
    private readonly List<nint> _blocks = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    public QuantizedCheckpoint(ICheckpoint inner, DType type)
    {
        if (type != DType.Q8_0) throw new EngineException($"quantizing to {type} is not supported; supported: q8_0");
        _inner = inner;
        Type = type;
    }

    /// <summary>Parses a --quantize value ("q8_0", any case); other ggml types are named as not supported yet.</summary>
    public static DType ParseType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "q8_0" => DType.Q8_0,
        "q4_0" or "q4_k" => throw new EngineException($"--quantize {text}: kept-quantized {text.ToUpperInvariant()} weights are not supported yet; supported: q8_0 (GGUF files of every supported type load, dequantized)"),
        _ => throw new EngineException($"--quantize '{text}' is not a quantization type; supported: q8_0"),
    };

    public DType Type { get; }
    public IReadOnlyCollection<string> TensorNames => _inner.TensorNames;

    public bool TryGet(string name, out TensorView tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock)
        {
            if (_quantized.TryGetValue(name, out tensor)) return true;
            if (!_inner.TryGet(name, out tensor)) return false;
            if (StoredType(tensor, Type) != Type) return true;
            tensor = _quantized[name] = Quantize(tensor);
            return true;
        }
    }

    /// <summary>
    /// The dtype a tensor gets when quantizing to <paramref name="type"/>: the type for a float matrix whose rows are
    /// whole blocks, else its own (1-D tensors, rows of another length, tensors already quantized).
    /// </summary>
    public static DType StoredType(TensorView tensor, DType type) =>
        tensor.Shape.Length == 2 && tensor.Shape[1] % DTypes.BlockLayout(type).Elements == 0 && !DTypes.IsBlockQuantized(tensor.DType)
            ? type
            : tensor.DType;

    public TensorView Get(string name) => TryGet(name, out var tensor) ? tensor : _inner.Get(name);

    private TensorView Quantize(TensorView tensor)
    {
        long rows = tensor.Shape[0], columns = tensor.Shape[1];
        long rowBytes = DTypes.ByteCount(Type, columns);
        byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(rows * rowBytes, 1), 64);
        _blocks.Add((nint)data);
        Parallel.For(0L, rows, () => new float[columns], (r, _, row) =>
        {
            tensor.ReadFloat32(r * columns, row);
            GgufQuantizer.QuantizeQ8_0(row, new Span<byte>(data + r * rowBytes, (int)rowBytes));
            return row;
        }, _ => { });
        return new TensorView(tensor.Name, tensor.File, Type, tensor.Shape, data, rows * rowBytes);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (nint block in _blocks) NativeMemory.AlignedFree((void*)block);
        _blocks.Clear();
        _quantized.Clear();
    }
}
