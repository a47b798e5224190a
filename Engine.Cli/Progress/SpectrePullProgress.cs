using Engine.Core.Hub;
using Spectre.Console;

namespace Engine.Cli.Progress;

/// <summary>Pull progress as Spectre.Console bars (bytes, rate, time left), one per file, for a terminal.</summary>
internal sealed class SpectrePullProgress(ProgressContext context) : IPullProgress
{
    private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);
    private readonly List<ProgressTask> _shown = [];

    /// <summary>Every bar added, in order.</summary>
    public IReadOnlyList<ProgressTask> Tasks => _shown;

    /// <summary>The column set of the download bars.</summary>
    public static ProgressColumn[] Columns =>
    [
        new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(),
        new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn(),
    ];

    public void FileStarted(string file, long? totalBytes, long resumedFrom)
    {
        var task = context.AddTask(Markup.Escape(file), maxValue: Math.Max(1, totalBytes ?? resumedFrom));
        task.Increment(resumedFrom);
        _tasks[file] = task;
        _shown.Add(task);
    }

    public void BytesReceived(string file, long count)
    {
        if (!_tasks.TryGetValue(file, out var task)) return;
        if (task.Value + count > task.MaxValue) task.MaxValue = task.Value + count;
        task.Increment(count);
    }

    public void FileFinished(string file, long totalBytes)
    {
        if (!_tasks.TryGetValue(file, out var task)) return;
        task.MaxValue = Math.Max(1, totalBytes);
        task.Value = task.MaxValue;
        task.StopTask();
    }

    public void FileCached(string file)
    {
        var task = context.AddTask(Markup.Escape(file) + " [grey](cached)[/]", maxValue: 1);
        task.Value = 1;
        task.StopTask();
        _shown.Add(task);
    }
}
