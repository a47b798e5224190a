namespace Engine.Cli;

/// <summary>
/// Ctrl-C (SIGINT) for a command that stops cleanly. While work runs it cancels the work, so the command
/// prints what it has and exits 130; while the command waits for input (a chat prompt) it ends the
/// process as a shell expects, rather than being swallowed until the next line.
/// </summary>
internal sealed class Interrupt : IDisposable
{
    private readonly CancellationTokenSource _source;

    /// <param name="outer">Cancels as Ctrl-C does (tests pass one through <see cref="CliApp.Run"/>).</param>
    public Interrupt(CancellationToken outer)
    {
        _source = CancellationTokenSource.CreateLinkedTokenSource(outer);
        Console.CancelKeyPress += OnCancelKeyPress;
    }

    public CancellationToken Token => _source.Token;

    /// <summary>Set while the command blocks on input: Ctrl-C then terminates the process.</summary>
    public bool WaitingForInput { get; set; }

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        e.Cancel = !WaitingForInput;
        _source.Cancel();
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _source.Dispose();
    }
}
