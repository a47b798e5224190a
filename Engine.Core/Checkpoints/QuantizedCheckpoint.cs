using System.Runtime.InteropServices;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Core.Checkpoints;

/// <summary>
/// A checkpoint whose matrices (projections, embeddings, output head: every 2-D tensor with rows a whole
/// number of blocks) are quantized on first use, for `--quantize` on safetensors models; 1-D tensors
/// (norms, biases) and tensors already block-quantized pass through. As llama-quantize, a Q4_K matrix whose
/// rows are not a multiple of 256 (Qwen2.5-0.5B's 896) falls back to Q5_0, and one whose rows are not a
/// multiple of 32 stays as it is. Quantized tensors live in native memory until Dispose; the inner
/// checkpoint is not disposed (its owner does that).
/// </summary>
public sealed unsafe class QuantizedCheckpoint : ICheckpoint
{
    private readonly ICheckpoint _inner;
    private readonly Dictionary<string, TensorView> _quantized = new(StringComparer.Ordinal);
    private readonly List<nint> _blocks = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    private readonly Dictionary<DType, int> _counts = [];

    public QuantizedCheckpoint(ICheckpoint inner, DType type)
    {
        if (type is not (DType.Q8_0 or DType.Q4_0 or DType.Q4_K)) throw new EngineException($"quantizing to {type} is not supported; supported: {Choices}");
        _inner = inner;
        Type = type;
    }

    public const string Choices = "q8_0, q4_0, q4_k";

    /// <summary>Parses a --quantize value ("q8_0", "q4_0", "q4_k", any case).</summary>
    public static DType ParseType(string text) => text.Trim().ToLowerInvariant() switch
    {
        "q8_0" => DType.Q8_0,
        "q4_0" => DType.Q4_0,
        "q4_k" => DType.Q4_K,
        _ => throw new EngineException($"--quantize '{text}' is not a quantization type; supported: {Choices}"),
    };

    public DType Type { get; }

    /// <summary>
    /// The type a matrix with rows of <paramref name="columns"/> gets: the target, else llama-quantize's
    /// fallback (Q4_K to Q5_0 where rows are not a multiple of 256), else null (kept as it is).
    /// </summary>
    public DType? TypeFor(long columns) => TypeFor(columns, Type);

    /// <inheritdoc cref="TypeFor(long)"/>
    public static DType? TypeFor(long columns, DType type)
    {
        if (columns % DTypes.BlockLayout(type).Elements == 0) return type;
        if (type == DType.Q4_K && columns % DTypes.BlockLayout(DType.Q5_0).Elements == 0) return DType.Q5_0;
        return null;
    }

    /// <summary>
    /// What was quantized to which type so far, e.g. "--quantize q4_k: 24 matrices Q4_K, 145 Q5_0 (rows not a
    /// multiple of 256: llama.cpp's fallback)"; null when nothing was.
    /// </summary>
    public string? Summary
    {
        get
        {
            lock (_lock)
            {
                if (_counts.Count == 0) return null;
                var parts = _counts.OrderBy(c => c.Key != Type).Select(c => c.Key == Type
                    ? $"{c.Value} matrices {DTypes.SafetensorsName(c.Key)}"
                    : $"{c.Value} {DTypes.SafetensorsName(c.Key)} (rows not a multiple of {DTypes.BlockLayout(Type).Elements}: llama.cpp's fallback)");
                return $"--quantize {DTypes.SafetensorsName(Type).ToLowerInvariant()}: {string.Join(", ", parts)}";
            }
        }
    }
    public IReadOnlyCollection<string> TensorNames => _inner.TensorNames;

    public bool TryGet(string name, out TensorView tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock)
        {
            if (_quantized.TryGetValue(name, out tensor)) return true;
            if (!_inner.TryGet(name, out tensor)) return false;
            DType stored = StoredType(tensor, Type);
            if (stored == tensor.DType) return true;
            tensor = _quantized[name] = Quantize(tensor, stored);
            _counts[stored] = _counts.GetValueOrDefault(stored) + 1;
            return true;
        }
    }

    /// <summary>
    /// The dtype a tensor gets when quantizing to <paramref name="type"/>: <see cref="TypeFor(long, DType)"/> for a float
    /// matrix, else its own (1-D tensors, rows of no fitting block length, tensors already quantized).
    /// </summary>
    public static DType StoredType(TensorView tensor, DType type) =>
        tensor.Shape.Length == 2 && !DTypes.IsBlockQuantized(tensor.DType) && TypeFor(tensor.Shape[1], type) is DType stored
            ? stored
            : tensor.DType;

    public TensorView Get(string name) => TryGet(name, out var tensor) ? tensor : _inner.Get(name);

    private TensorView Quantize(TensorView tensor, DType type)
    {
        long rows = tensor.Shape[0], columns = tensor.Shape[1];
        long rowBytes = DTypes.ByteCount(type, columns);
        byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(rows * rowBytes, 1), 64);
        _blocks.Add((nint)data);
        Parallel.For(0L, rows, () => new float[columns], (r, _, row) =>
        {
            tensor.ReadFloat32(r * columns, row);
            GgufQuantizer.Quantize(type, row, new Span<byte>(data + r * rowBytes, (int)rowBytes));
            return row;
        }, _ => { });
        return new TensorView(tensor.Name, tensor.File, type, tensor.Shape, data, rows * rowBytes);
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
