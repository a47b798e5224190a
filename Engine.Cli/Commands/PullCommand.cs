using System.CommandLine;
using Engine.Cli.Formatting;
using Engine.Cli.Progress;
using Engine.Core;
using Engine.Core.Hub;
using Spectre.Console;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine pull NAME`: downloads a model (registry name or org/name repo id) into the Hugging Face cache,
/// resumably and verified; a progress bar on a terminal, plain lines otherwise.
/// </summary>
internal static class PullCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "A name from models.json (see: engine models) or an org/name repo id, optionally :QUANT_TAG (one GGUF file, as llama.cpp -hf) and @revision" };
        var revision = new Option<string?>("--revision") { Description = "Branch, tag or commit hash to download (default: the registry's, else main)" };
        var command = new Command("pull", "Download a model from the Hugging Face hub into the local cache (HF_HUB_CACHE / HF_HOME)");
        command.Arguments.Add(model);
        command.Options.Add(revision);
        command.SetAction(new Func<ParseResult, CancellationToken, Task<int>>((parsed, cancel) =>
            RunAsync(parsed.GetValue(model)!, parsed.GetValue(revision), parsed.InvocationConfiguration.Output, cancel)));
        return command;
    }

    private static async Task<int> RunAsync(string name, string? revision, TextWriter stdout, CancellationToken cancel)
    {
        if (revision is not null && name.Contains('@')) throw new EngineException($"give the revision either as {name} or with --revision, not both");
        var environment = HubEnvironment.Current;
        var reference = ModelReference.Parse(revision is null ? name : $"{name}@{revision}", () => ModelRegistry.Default);
        if (reference.IsFolder) throw new EngineException($"'{name}' is a local folder: nothing to pull (pass it to --model directly)");

        PullResult result;
        if (ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected && !environment.Offline)
        {
            result = await AnsiConsole.Progress()
                .Columns(SpectrePullProgress.Columns)
                .StartAsync(context => new ModelPuller(environment, new SpectrePullProgress(context)).PullAsync(reference, cancel));
        }
        else
        {
            result = await new ModelPuller(environment, new PlainPullProgress(stdout)).PullAsync(reference, cancel);
        }

        string label = reference.Entry is { } entry ? $"{entry.Name} ({result.RepoId})" : result.RepoId;
        stdout.WriteLine(result.AlreadyPresent
            ? $"{label} is already present at {result.Folder}"
            : $"pulled {label} at commit {result.Commit[..12]} into {result.Folder} ({result.FilesDownloaded} files, {ByteSize.Format(result.BytesDownloaded)} downloaded)");
        return 0;
    }
}
