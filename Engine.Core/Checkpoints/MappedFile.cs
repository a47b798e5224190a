using System.IO.MemoryMappedFiles;

namespace Engine.Core.Checkpoints;

/// <summary>A whole file memory-mapped read-only, with a pointer to its first byte; Dispose unmaps it.</summary>
internal sealed unsafe class MappedFile : IDisposable
{
    private readonly MemoryMappedFile? _mapping;
    private readonly MemoryMappedViewAccessor? _view;
    private bool _disposed;

    private MappedFile(string path, long length, MemoryMappedFile? mapping, MemoryMappedViewAccessor? view, byte* pointer)
    {
        Path = path; Length = length; _mapping = mapping; _view = view; Pointer = pointer;
    }

    public string Path { get; }
    public long Length { get; }
    /// <summary>The first byte of the file; null once disposed (and for an empty file).</summary>
    public byte* Pointer { get; private set; }

    /// <summary>
    /// Maps <paramref name="path"/> (a full path); I/O errors become an <see cref="EngineException"/> naming it.
    /// An empty file is not mapped (the OS refuses it): its <see cref="Pointer"/> is null.
    /// </summary>
    public static MappedFile Open(string path)
    {
        FileStream? stream = null;
        MemoryMappedFile? mapping = null;
        MemoryMappedViewAccessor? view = null;
        byte* pointer = null;
        try
        {
            // The stream's length is the target's: FileInfo.Length would measure a symbolic link itself
            // (the Hugging Face cache links snapshot files to blobs). FileShare.Read lets others map it too.
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            long length = stream.Length;
            if (length == 0)
            {
                stream.Dispose();
                return new MappedFile(path, 0, null, null, null);
            }
            mapping = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            stream = null; // owned by the mapping now
            view = mapping.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            return new MappedFile(path, length, mapping, view, pointer + view.PointerOffset);
        }
        catch (Exception e)
        {
            if (pointer != null) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            mapping?.Dispose();
            stream?.Dispose();
            if (e is IOException or UnauthorizedAccessException)
                throw new EngineException($"{path}: cannot read the file: {e.Message.ReplaceLineEndings(" ").Trim()}", e);
            throw;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (Pointer != null) _view!.SafeMemoryMappedViewHandle.ReleasePointer();
        Pointer = null;
        _view?.Dispose();
        _mapping?.Dispose();
    }
}
