namespace Engine.Core.Hub;

/// <summary>Progress that goes nowhere (library callers that do not show it).</summary>
public sealed class SilentPullProgress : IPullProgress
{
    public void FileStarted(string file, long? totalBytes, long resumedFrom) { }
    public void BytesReceived(string file, long count) { }
    public void FileFinished(string file, long totalBytes) { }
    public void FileCached(string file) { }
}
