using System.CommandLine;
using System.Text.Json;
using Engine.Cli.Formatting;
using Engine.Core.Hub;
using Spectre.Console;

namespace Engine.Cli.Commands;

/// <summary>`engine models`: the registry (models.json) as a table or JSON, with whether each model is in the local cache.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var json = new Option<bool>("--json") { Description = "Print the registry as JSON" };
        var command = new Command("models", "List the models of the registry (models.json) and whether each is downloaded");
        command.Options.Add(json);
        command.SetAction(new Func<ParseResult, int>(parsed =>
        {
            var output = parsed.InvocationConfiguration.Output;
            var cache = new HubCacheLayout(HubEnvironment.Current.CacheRoot);
            var rows = ModelRegistry.Default.Entries.Select(entry => (Entry: entry, Local: FindLocal(entry, cache))).ToList();
            if (parsed.GetValue(json)) WriteJson(rows, output);
            else WriteTable(rows, output, cache);
            return 0;
        }));
        return command;
    }

    private static ResolvedModel? FindLocal(RegistryEntry entry, HubCacheLayout cache) =>
        ModelLocator.FindInCache(ModelReference.ForEntry(entry), cache);

    private static void WriteJson(List<(RegistryEntry Entry, ResolvedModel? Local)> rows, TextWriter output)
    {
        var models = rows.Select(r => new
        {
            name = r.Entry.Name,
            repo = r.Entry.Repo,
            revision = r.Entry.Revision,
            architecture = r.Entry.Architecture.ToString().ToLowerInvariant(),
            parameters = r.Entry.Parameters,
            bytes = r.Entry.Bytes,
            lagkv = new { lag_size = r.Entry.LagKv.LagSize, sink_size = r.Entry.LagKv.SinkSize, ratio = r.Entry.LagKv.Ratio },
            present = r.Local is not null,
            path = r.Local?.Folder,
        });
        output.WriteLine(JsonSerializer.Serialize(models, CliJson.Indented));
    }

    private static void WriteTable(List<(RegistryEntry Entry, ResolvedModel? Local)> rows, TextWriter output, HubCacheLayout cache)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal) console.Profile.Width = 160;
        var table = new Table().AddColumns("name", "repo", "arch", "params", "size", "LagKV (recommended)", "local");
        foreach (var (entry, local) in rows)
            table.AddRow(
                Markup.Escape(entry.Name), Markup.Escape(entry.Repo + (entry.Revision == "main" ? "" : "@" + entry.Revision)),
                entry.Architecture.ToString().ToLowerInvariant(), ByteSize.FormatParameters(entry.Parameters), ByteSize.Format(entry.Bytes),
                entry.LagKv.ToString(), local is not null ? "[green]yes[/]" : "no");
        console.Write(table);
        console.WriteLine($"cache: {cache.CacheRoot}; get a model with: engine pull NAME");
    }
}
