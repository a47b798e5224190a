using System.Diagnostics;
using System.Globalization;
using Engine.Cli.Formatting;
using Engine.Core.Hub;

namespace Engine.Cli.Progress;

/// <summary>Pull progress as one line per file, for output that is not a terminal (logs, pipes, tests).</summary>
internal sealed class PlainPullProgress(TextWriter output) : IPullProgress
{
    private readonly Stopwatch _clock = new();
    private long _received;

    public void FileStarted(string file, long? totalBytes, long resumedFrom)
    {
        _received = 0;
        _clock.Restart();
        string size = totalBytes is { } total ? ByteSize.Format(total) : "size unknown";
        string resume = resumedFrom > 0 ? $", resuming at {ByteSize.Format(resumedFrom)}" : "";
        output.WriteLine($"{file}: downloading ({size}{resume})");
    }

    public void BytesReceived(string file, long count) => _received += count;

    public void FileFinished(string file, long totalBytes)
    {
        double seconds = Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        string rate = ByteSize.Format((long)(_received / seconds)) + "/s";
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{file}: done, {ByteSize.Format(totalBytes)} verified ({ByteSize.Format(_received)} in {seconds:0.0} s, {rate})"));
    }

    public void FileCached(string file) => output.WriteLine($"{file}: already in the cache");
}
