using System.Diagnostics;
using System.Globalization;
using Engine.Cli.Formatting;
using Engine.Core.Hub;

namespace Engine.Cli.Progress;

/// <summary>Pull progress as one line per file, for output that is not a terminal (logs, pipes, tests).</summary>
internal sealed class PlainPullProgress(TextWriter output) : IPullProgress
{
    // Large files also get a line per tenth, so a log shows that a long download is moving.
    private const long LargeFile = 50_000_000;
    private readonly Stopwatch _clock = new();
    private long _received;
    private long _resumedFrom;
    private long? _total;
    private int _tenthsReported;

    public void FileStarted(string file, long? totalBytes, long resumedFrom)
    {
        _received = 0;
        _resumedFrom = resumedFrom;
        _total = totalBytes;
        _tenthsReported = totalBytes is { } t && t > 0 ? (int)(10 * resumedFrom / t) : 0;
        _clock.Restart();
        string size = totalBytes is { } total ? ByteSize.Format(total) : "size unknown";
        string resume = resumedFrom > 0 ? $", resuming at {ByteSize.Format(resumedFrom)}" : "";
        output.WriteLine($"{file}: downloading ({size}{resume})");
    }

    public void BytesReceived(string file, long count)
    {
        _received += count;
        if (_total is not { } total || total < LargeFile) return;
        int tenths = (int)(10 * Math.Min(total, _resumedFrom + _received) / total);
        if (tenths <= _tenthsReported || tenths >= 10) return;
        _tenthsReported = tenths;
        output.WriteLine($"{file}: {tenths * 10}% ({ByteSize.Format(_resumedFrom + _received)} of {ByteSize.Format(total)}, {Rate()})");
    }

    public void FileFinished(string file, long totalBytes)
    {
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{file}: done, {ByteSize.Format(totalBytes)} verified ({ByteSize.Format(_received)} in {_clock.Elapsed.TotalSeconds:0.0} s, {Rate()})"));
    }

    private string Rate() => ByteSize.Format((long)(_received / Math.Max(_clock.Elapsed.TotalSeconds, 1e-3))) + "/s";

    public void FileCached(string file) => output.WriteLine($"{file}: already in the cache");
}
