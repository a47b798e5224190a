using System.CommandLine;
using Engine.Cli.Commands;
using Engine.Cli.Progress;
using Engine.Core;
using Engine.Core.Hub;

namespace Engine.Cli;

/// <summary>
/// The `engine` command: wires the subcommands and turns every failure into one line on stderr and a
/// non-zero exit code (the stack trace only with --verbose).
/// </summary>
public static class CliApp
{
    /// <summary>Shown by every command; prints stack traces of unexpected errors.</summary>
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Show stack traces of errors", Recursive = true };

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("engine: Llama and Qwen2 inference on ILGPU with LagKV KV-cache compression");
        root.Options.Add(Verbose);
        foreach (var command in new[]
                 {
                     RunCommand.Create(), ModelsCommand.Create(), PullCommand.Create(), InfoCommand.Create(),
                     DoctorCommand.Create(), TokenizeCommand.Create(), TemplateCommand.Create(), BenchCommand.Create(),
                     EvalCommand.Create(), QuantizeCommand.Create(), ServeCommand.Create(), SelfTestCommand.Create(), GpuReportCommand.Create(),
                 })
            root.Subcommands.Add(command);
        return root;
    }

    /// <summary>
    /// Cancels the running command as Ctrl-C does; set by <see cref="Run"/> for the commands it invokes
    /// (tests cancel through it, the console's Ctrl-C is linked to it by the commands that stop cleanly).
    /// </summary>
    internal static CancellationToken Cancellation => CurrentCancellation.Value;

    private static readonly AsyncLocal<CancellationToken> CurrentCancellation = new();

    public static int Run(string[] args, TextWriter? stdout = null, TextWriter? stderr = null, CancellationToken cancellation = default)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        var root = BuildRoot();
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            stderr.WriteLine($"error: {ParseErrorText.Describe(parsed)} (see: engine {CommandPath(parsed)}--help)");
            return ExitCodes.Usage;
        }
        bool verbose = parsed.GetValue(Verbose);
        CurrentCancellation.Value = cancellation;
        ModelLocator.QuantTagPullProgress = new PlainPullProgress(stderr);
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return ReportError(e, verbose, stderr);
        }
        finally
        {
            CurrentCancellation.Value = default;
        }
    }

    public static int ReportError(Exception e, bool verbose, TextWriter stderr)
    {
        if (e is AggregateException { InnerExceptions.Count: 1 } agg) e = agg.InnerExceptions[0];
        if (e is OperationCanceledException) { stderr.WriteLine("cancelled"); return ExitCodes.Interrupted; }
        string message = e is EngineException ? e.Message : $"{e.GetType().Name}: {e.Message}";
        stderr.WriteLine($"error: {OneLine(message)}");
        if (verbose) stderr.WriteLine(e.ToString());
        return ExitCodes.Error;
    }

    private static string OneLine(string s) => ParseErrorText.OneLine(s);

    private static string CommandPath(ParseResult parsed)
    {
        var names = new List<string>();
        for (var r = parsed.CommandResult; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return string.Concat(names.Select(n => n + " "));
    }
}
