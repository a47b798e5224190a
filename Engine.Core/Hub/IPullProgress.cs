namespace Engine.Core.Hub;

/// <summary>Receives a pull's progress (the CLI draws a bar on a terminal, plain lines otherwise).</summary>
public interface IPullProgress
{
    /// <summary>A file's download starts; <paramref name="resumedFrom"/> bytes were already on disk.</summary>
    void FileStarted(string file, long? totalBytes, long resumedFrom);

    /// <summary>More bytes of the current file arrived.</summary>
    void BytesReceived(string file, long count);

    /// <summary>A file is verified and stored.</summary>
    void FileFinished(string file, long totalBytes);

    /// <summary>A file was already in the cache.</summary>
    void FileCached(string file);
}
