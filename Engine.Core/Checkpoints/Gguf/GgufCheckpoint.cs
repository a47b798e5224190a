using System.Runtime.InteropServices;
using Engine.Core.Config;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// A GGUF model file as an <see cref="ICheckpoint"/> under Hugging Face tensor names, so the engine's
/// loading path reads it like a safetensors checkpoint. F32/F16/BF16 tensors are zero-copy views of the
/// mapping; quantized tensors are dequantized to F32 on first use; the q/k rows of Llama files are put
/// back in Hugging Face's order (llama.cpp's converter interleaves the two RoPE halves of each head).
/// Materialized tensors live in native memory until Dispose.
/// </summary>
public sealed unsafe class GgufCheckpoint : ICheckpoint
{
    private readonly GgufFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _byHfName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TensorView> _views = new(StringComparer.Ordinal);
    private readonly List<nint> _blocks = [];
    private readonly Lock _lock = new();
    private bool _disposed;

    private GgufCheckpoint(GgufFile file, ModelConfig config)
    {
        _file = file;
        Config = config;
        foreach (var tensor in file.Tensors)
            _byHfName[GgufTensorNames.ToHuggingFace(tensor.Name) ?? tensor.Name] = tensor;
        TensorNames = _byHfName.Keys.ToList();
    }

    public GgufFile File => _file;
    /// <summary>The model the metadata describes.</summary>
    public ModelConfig Config { get; }
    public IReadOnlyCollection<string> TensorNames { get; }

    /// <summary>
    /// Opens and validates a GGUF model: the file itself (<see cref="GgufFile.Open"/>), its metadata as a
    /// Llama/Qwen2 config, and every tensor the config implies (present, shaped as the metadata says,
    /// of a supported type), each error naming the file and the GGUF tensor.
    /// </summary>
    public static GgufCheckpoint Open(string path)
    {
        var file = GgufFile.Open(path);
        try
        {
            var checkpoint = new GgufCheckpoint(file, GgufModelConfig.Read(file));
            checkpoint.CheckAgainstMetadata();
            return checkpoint;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private void CheckAgainstMetadata()
    {
        string arch = Config.Architecture.ToString().ToLowerInvariant();
        foreach (var expected in WeightSpec.For(Config))
        {
            string ggufName = GgufTensorNames.FromHuggingFace(expected.Name);
            if (!_byHfName.TryGetValue(expected.Name, out var tensor))
                throw new EngineException($"{_file.Path}: tensor '{ggufName}' is missing; the metadata ({arch}) implies shape {ExpectedTensor.FormatShape(expected.Shape)}");
            if (!tensor.Shape.SequenceEqual(expected.Shape))
                throw new EngineException(
                    $"{_file.Path}: tensor '{ggufName}' has shape {ExpectedTensor.FormatShape(tensor.Shape)}, but the metadata ({arch}.embedding_length, head counts, feed_forward_length, vocabulary) implies {ExpectedTensor.FormatShape(expected.Shape)}");
            if (!GgmlTypes.IsSupported(tensor.Type)) throw GgufDequantizer.Unsupported(tensor.Type, $"{_file.Path}: tensor '{ggufName}'");
        }
    }

    public bool TryGet(string name, out TensorView tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_lock)
        {
            if (_views.TryGetValue(name, out tensor)) return true;
            if (!_byHfName.TryGetValue(name, out var info)) return false;
            tensor = _views[name] = View(name, info);
            return true;
        }
    }

    /// <summary>The GGUF tensor behind a Hugging Face name, as stored (type and bytes before any dequantization); null when absent.</summary>
    public GgufTensorInfo? StoredTensor(string name) => _byHfName.GetValueOrDefault(name);

    public TensorView Get(string name) =>
        TryGet(name, out var tensor) ? tensor : throw new EngineException($"tensor '{GgufTensorNames.FromHuggingFace(name)}' not found in {_file.Path}");

    private TensorView View(string name, GgufTensorInfo info)
    {
        byte* source = _file.DataPointer(info);
        bool permute = Config.Architecture == ModelArchitecture.Llama && GgufTensorNames.IsQueryOrKey(info.Name, out _);
        // Every supported type is stored as it is (a backend without kernels for a block type dequantizes it at upload).
        DType? floatType = StoredType(info.Type);
        if (floatType is DType direct && !permute)
            return new TensorView(name, _file.Path, direct, info.Shape, source, info.ByteLength);

        if (permute)
        {
            byte* permuted = Allocate(info.ByteLength);
            UnpermuteRows(info, source, permuted);
            source = permuted;
        }
        if (floatType is DType type) return new TensorView(name, _file.Path, type, info.Shape, source, info.ByteLength);

        long bytes = info.ElementCount * sizeof(float);
        float* output = (float*)Allocate(bytes);
        Dequantize(info, source, output);
        return new TensorView(name, _file.Path, DType.F32, info.Shape, (byte*)output, bytes);
    }

    /// <summary>The engine dtype that holds a GGUF type's bytes unchanged; null for a type that is dequantized when read.</summary>
    public static DType? StoredType(GgmlType type) => type switch
    {
        GgmlType.F32 => DType.F32, GgmlType.F16 => DType.F16, GgmlType.BF16 => DType.BF16,
        GgmlType.Q8_0 => DType.Q8_0, GgmlType.Q4_0 => DType.Q4_0, GgmlType.Q5_0 => DType.Q5_0,
        GgmlType.Q4_K => DType.Q4_K, GgmlType.Q5_K => DType.Q5_K, GgmlType.Q6_K => DType.Q6_K,
        _ => null,
    };

    /// <summary>The GGUF type of an engine dtype (the inverse of <see cref="StoredType"/>).</summary>
    public static GgmlType GgmlTypeOf(DType type) => type switch
    {
        DType.F32 => GgmlType.F32, DType.F16 => GgmlType.F16, DType.BF16 => GgmlType.BF16,
        DType.Q8_0 => GgmlType.Q8_0, DType.Q4_0 => GgmlType.Q4_0, DType.Q5_0 => GgmlType.Q5_0,
        DType.Q4_K => GgmlType.Q4_K, DType.Q5_K => GgmlType.Q5_K, DType.Q6_K => GgmlType.Q6_K,
        _ => throw new ArgumentOutOfRangeException(nameof(type), $"{type} has no GGUF type"),
    };

    /// <summary>Dequantizes row by row (spans stay under 2 GiB whatever the tensor's size).</summary>
    private void Dequantize(GgufTensorInfo info, byte* source, float* output)
    {
        long columns = info.Dims[0], rows = info.ElementCount / Math.Max(columns, 1);
        long rowBytes = GgmlTypes.RowBytes(info.Type, columns);
        string what = $"{_file.Path}: tensor '{info.Name}'";
        Parallel.For(0L, rows, r => GgufDequantizer.Dequantize(info.Type,
            new ReadOnlySpan<byte>(source + r * rowBytes, (int)rowBytes), new Span<float>(output + r * columns, (int)columns), what));
    }

    /// <summary>
    /// Undoes the converter's permutation of q/k rows: within each head of d rows, GGUF row 2j + t holds
    /// Hugging Face row t*d/2 + j (t = 0, 1; j &lt; d/2). Rows are whole blocks, so raw bytes move as they are.
    /// </summary>
    private void UnpermuteRows(GgufTensorInfo info, byte* source, byte* destination)
    {
        GgufTensorNames.IsQueryOrKey(info.Name, out bool isKey);
        int heads = isKey ? Config.NumKvHeads : Config.NumHeads;
        long rows = info.Dims.Length == 1 ? info.Dims[0] : info.Dims[1];
        long rowBytes = info.ByteLength / rows;
        long d = rows / heads;
        if (d * heads != rows || d % 2 != 0)
            throw new EngineException($"{_file.Path}: tensor '{info.Name}' has {rows} rows, not {heads} heads of an even size");
        for (long h = 0; h < heads; h++)
            for (long j = 0; j < d / 2; j++)
                for (long t = 0; t < 2; t++)
                    Buffer.MemoryCopy(source + (h * d + 2 * j + t) * rowBytes, destination + (h * d + t * d / 2 + j) * rowBytes, rowBytes, rowBytes);
    }

    private byte* Allocate(long bytes)
    {
        byte* block = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
        _blocks.Add((nint)block);
        return block;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (nint block in _blocks) NativeMemory.AlignedFree((void*)block);
        _blocks.Clear();
        _views.Clear();
        _file.Dispose();
    }
}
