using System.CommandLine;
using Engine.Core;
using Engine.Server.Bench;

namespace Engine.Cli.Options;

/// <summary>
/// `engine bench --server URL`: load-test a running server instead of a model in-process
/// (--concurrency, --requests; --prompt-tokens and --gen-tokens are shared with the model bench).
/// </summary>
public sealed class ServerBenchOptions
{
    public Option<string?> Server { get; } = new("--server") { Description = "Load-test a running server at this URL (e.g. http://127.0.0.1:8080) instead of loading --model" };
    public Option<int> Concurrency { get; } = new("--concurrency") { Description = "With --server: clients sending at once", DefaultValueFactory = _ => 8 };
    public Option<int> Requests { get; } = new("--requests") { Description = "With --server: requests in all", DefaultValueFactory = _ => 32 };
    public Option<string?> ApiKey { get; } = new("--api-key") { Description = "With --server: the server's API key (default: $ENGINE_API_KEY)" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { Server, Concurrency, Requests, ApiKey })
            command.Options.Add(option);
    }

    /// <summary>Runs the load test when --server was given; null otherwise.</summary>
    public int? TryRun(ParseResult parsed, int promptTokens, int genTokens, bool json)
    {
        if (parsed.GetValue(Server) is not { } url)
        {
            foreach (Option o in new Option[] { Concurrency, Requests, ApiKey })
                if (parsed.GetResult(o) is { Implicit: false }) throw new EngineException($"{o.Name} needs --server URL");
            return null;
        }
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new EngineException($"--server '{url}' is not an http(s) URL");
        string? key = parsed.GetValue(ApiKey) ?? Environment.GetEnvironmentVariable("ENGINE_API_KEY");
        var settings = new LoadSettings(uri, parsed.GetValue(Concurrency), parsed.GetValue(Requests), promptTokens, genTokens, string.IsNullOrEmpty(key) ? null : key);
        var report = ServerLoadGenerator.RunAsync(settings).GetAwaiter().GetResult();
        var output = parsed.InvocationConfiguration.Output;
        if (json) output.WriteLine(report.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        else report.WriteTable(output);
        return report.Failed == 0 ? 0 : 1;
    }
}
