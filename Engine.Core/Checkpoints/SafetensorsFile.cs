using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;

namespace Engine.Core.Checkpoints;

/// <summary>
/// One safetensors file, memory-mapped read-only and validated on open; its tensors are zero-copy
/// views into the mapping, valid until <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class SafetensorsFile : ICheckpoint
{
    private readonly MemoryMappedFile _mapping;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, TensorView> _tensors;
    private byte* _base;

    private SafetensorsFile(string path, MemoryMappedFile mapping, MemoryMappedViewAccessor view, byte* basePointer,
        IReadOnlyList<SafetensorsEntry> entries, long dataStart)
    {
        Path = path;
        _mapping = mapping;
        _view = view;
        _base = basePointer;
        _tensors = new Dictionary<string, TensorView>(entries.Count, StringComparer.Ordinal);
        foreach (var e in entries)
            _tensors[e.Name] = new TensorView(e.Name, path, e.DType, e.Shape, basePointer + dataStart + e.Begin, e.ByteLength);
        TensorNames = _tensors.Keys.ToList();
    }

    public string Path { get; }

    public IReadOnlyCollection<string> TensorNames { get; }

    /// <summary>Maps and validates <paramref name="path"/>; an <see cref="EngineException"/> naming the file (and tensor) when it is malformed.</summary>
    public static SafetensorsFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new EngineException($"checkpoint file {path} not found");

        FileStream? stream = null;
        MemoryMappedFile? mapping = null;
        MemoryMappedViewAccessor? view = null;
        byte* basePointer = null;
        try
        {
            // The stream's length is the target's: FileInfo.Length would measure a symbolic link itself
            // (the Hugging Face cache links snapshot files to blobs). FileShare.Read lets others map it too.
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            long length = stream.Length;
            if (length == 0) throw new EngineException($"{path}: file is empty, not a safetensors checkpoint");
            if (length < 8)
                throw new EngineException($"{path}: file is truncated: {length} bytes, shorter than the 8-byte header length");
            mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null; // owned by the mapping now
            view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
            basePointer += view.PointerOffset;

            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
            if (headerLength > (ulong)(length - 8))
                throw new EngineException(
                    $"{path}: header length {headerLength} runs past the end of the {length}-byte file (truncated, or not a safetensors file)");
            if (headerLength > SafetensorsHeader.MaxHeaderBytes)
                throw new EngineException($"{path}: header length {headerLength} exceeds the {SafetensorsHeader.MaxHeaderBytes}-byte limit");
            if (headerLength == 0) throw new EngineException($"{path}: safetensors header is empty");

            long dataStart = 8 + (long)headerLength;
            var entries = SafetensorsHeader.Parse(new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength), length - dataStart, path);
            return new SafetensorsFile(path, mapping, view, basePointer, entries, dataStart);
        }
        catch (Exception e)
        {
            // Nothing half-loaded: release what was mapped before reporting.
            if (basePointer != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            mapping?.Dispose();
            stream?.Dispose();
            if (e is IOException or UnauthorizedAccessException)
                throw new EngineException($"{path}: cannot read the file: {e.Message.ReplaceLineEndings(" ").Trim()}", e);
            throw;
        }
    }

    public bool TryGet(string name, out TensorView tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        return _tensors.TryGetValue(name, out tensor);
    }

    public TensorView Get(string name) =>
        TryGet(name, out var tensor) ? tensor : throw new EngineException($"tensor '{name}' not found in {Path}");

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _mapping.Dispose();
    }
}
