using System.Buffers.Binary;

namespace Engine.Core.Checkpoints;

/// <summary>
/// One safetensors file, memory-mapped read-only and validated on open; its tensors are zero-copy
/// views into the mapping, valid until <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class SafetensorsFile : ICheckpoint
{
    private readonly MappedFile _file;
    private readonly Dictionary<string, TensorView> _tensors;

    private SafetensorsFile(MappedFile file, IReadOnlyList<SafetensorsEntry> entries, long dataStart)
    {
        _file = file;
        _tensors = new Dictionary<string, TensorView>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries)
            _tensors[e.Name] = new TensorView(e.Name, file.Path, e.DType, e.Shape, file.Pointer + dataStart + e.Begin, e.ByteLength);
        TensorNames = _tensors.Keys.ToList();
    }

    public string Path => _file.Path;

    public IReadOnlyCollection<string> TensorNames { get; }

    /// <summary>Maps and validates <paramref name="path"/>; an <see cref="EngineException"/> naming the file (and tensor) when it is malformed.</summary>
    public static SafetensorsFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new EngineException($"checkpoint file {path} not found");

        var file = MappedFile.Open(path);
        try
        {
            long length = file.Length;
            if (length == 0) throw new EngineException($"{path}: file is empty, not a safetensors checkpoint");
            if (length < 8)
                throw new EngineException($"{path}: file is truncated: {length} bytes, shorter than the 8-byte header length");
            byte* basePointer = file.Pointer;
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
            if (headerLength > (ulong)(length - 8))
                throw new EngineException(
                    $"{path}: header length {headerLength} runs past the end of the {length}-byte file (truncated, or not a safetensors file)");
            if (headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw new EngineException($"{path}: header length {headerLength} exceeds the {SafetensorsHeader.MaxHeaderBytes}-byte limit");
            if (headerLength == 0) throw new EngineException($"{path}: safetensors header is empty");

            long dataStart = 8 + (long)headerLength;
            var entries = SafetensorsHeader.Parse(new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength), length - dataStart, path);
            return new SafetensorsFile(file, entries, dataStart);
        }
        catch
        {
            file.Dispose(); // nothing half-loaded
            throw;
        }
    }

    public bool TryGet(string name, out TensorView tensor)
    {
        ObjectDisposedException.ThrowIf(_file.Pointer == null, this);
        return _tensors.TryGetValue(name, out tensor);
    }

    public TensorView Get(string name) =>
        TryGet(name, out var tensor) ? tensor : throw new EngineException($"tensor '{name}' not found in {Path}");

    public void Dispose() => _file.Dispose();
}
