namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// One GGUF file, memory-mapped read-only and validated on open (see <see cref="GgufHeader"/>): its
/// metadata, its tensor table, and zero-copy views of each tensor's raw bytes, valid until
/// <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    public const string Extension = ".gguf";

    private readonly MappedFile _file;
    private readonly Dictionary<string, GgufTensorInfo> _byName;
    private readonly long _dataStart;

    private GgufFile(MappedFile file, GgufHeader.Parsed parsed)
    {
        _file = file;
        Version = parsed.Version;
        Metadata = parsed.Metadata;
        Tensors = parsed.Tensors;
        Alignment = parsed.Alignment;
        _dataStart = parsed.DataStart;
        _byName = parsed.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path => _file.Path;
    public uint Version { get; }
    public GgufMetadata Metadata { get; }
    /// <summary>The tensor table in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }
    public uint Alignment { get; }

    /// <summary>Whether a path names a GGUF file by its extension.</summary>
    public static bool IsGgufPath(string path) => path.EndsWith(Extension, StringComparison.OrdinalIgnoreCase);

    /// <summary>Maps and validates <paramref name="path"/>; an <see cref="EngineException"/> naming the file (and tensor or key) when it is malformed.</summary>
    public static GgufFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new EngineException($"GGUF file {path} not found");
        var file = MappedFile.Open(path);
        try
        {
            return new GgufFile(file, GgufHeader.Parse(file.Pointer, file.Length, path));
        }
        catch
        {
            file.Dispose(); // nothing half-loaded
            throw;
        }
    }

    public bool TryGetTensor(string name, out GgufTensorInfo tensor) => _byName.TryGetValue(name, out tensor!);

    /// <summary>Pointer to the first byte of a tensor's data; valid until Dispose.</summary>
    public byte* DataPointer(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_file.Pointer == null, this);
        return _file.Pointer + _dataStart + tensor.Offset;
    }

    /// <summary>A tensor's raw bytes (tensors over 2 GiB are read through <see cref="DataPointer"/>).</summary>
    public ReadOnlySpan<byte> Bytes(GgufTensorInfo tensor) => tensor.ByteLength <= int.MaxValue
        ? new ReadOnlySpan<byte>(DataPointer(tensor), (int)tensor.ByteLength)
        : throw new EngineException($"tensor {tensor.Name} in {Path} is over 2 GiB; read it through its pointer");

    public void Dispose() => _file.Dispose();
}
