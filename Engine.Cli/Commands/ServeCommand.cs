using System.CommandLine;
using System.Globalization;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Core.Hub;
using Engine.Core.Text;
using Engine.Server;
using Engine.Server.Hosting;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine serve`: an OpenAI-compatible HTTP server (chat and completions, stream and not, /v1/models,
/// /health, /metrics, /tokenize, /detokenize, a web chat page at /). The model loads in the background
/// while /health answers 503; SIGTERM or Ctrl-C stops it gracefully and exits 0.
/// </summary>
internal static class ServeCommand
{
    private static readonly Option<string> Model = CommonOptions.Model();
    private static readonly Option<string> Host = new("--host") { Description = "Address to listen on (an IP address or localhost)", DefaultValueFactory = _ => "127.0.0.1" };
    private static readonly Option<int> Port = new("--port") { Description = "Port to listen on (0: a free one)", DefaultValueFactory = _ => 8080 };
    private static readonly Option<string?> ApiKey = new("--api-key") { Description = "Require 'Authorization: Bearer KEY' on the API (not on /health, /metrics or the page); default: $ENGINE_API_KEY" };
    private static readonly Option<int> MaxQueue = new("--max-queue") { Description = "Requests that may wait for the engine; more get 503 with Retry-After", DefaultValueFactory = _ => 64 };
    private static readonly Option<string?> ChatTemplate = new("--chat-template") { Description = "A Jinja chat template file to use instead of the model's" };
    private static readonly Option<string?> ServedModelName = new("--served-model-name") { Description = "The model id clients use (default: --model)" };
    private static readonly Option<string?> PrefillChunk = new("--prefill-chunk") { Description = "Prompt tokens per prefill step (0: whole prompt; auto: with LagKV S + 2L, then L)" };
    private static readonly Option<double> ShutdownGrace = new("--shutdown-grace") { Description = "Seconds running requests may finish after SIGTERM before they are cancelled", DefaultValueFactory = _ => 10 };
    private static readonly Option<string?> Tokenizer = new("--tokenizer") { Description = "With --random-weights: a folder whose tokenizer (and chat template) the server uses (default: the model's own files when present locally; else prompts are token ids only)" };
    private static readonly EngineLoadOptions EngineLoad = new();
    private static readonly RandomWeightsOptions RandomWeights = new();
    private static readonly KvPolicyOptions KvPolicy = new();

    public static Command Create()
    {
        var command = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API, with metrics and a web chat page");
        foreach (Option option in new Option[] { Model, Host, Port, ApiKey, MaxQueue, ChatTemplate, ServedModelName, PrefillChunk, ShutdownGrace, Tokenizer })
            command.Options.Add(option);
        EngineLoad.AddTo(command);
        RandomWeights.AddTo(command);
        KvPolicy.AddTo(command);
        command.SetAction(new Func<ParseResult, int>(parsed => ExecuteAsync(parsed).GetAwaiter().GetResult()));
        return command;
    }

    /// <summary>The server options the command line gives (checked; no model is loaded here).</summary>
    public static ServerOptions ReadOptions(ParseResult parsed)
    {
        var kvSettings = KvPolicy.Read(parsed, KvPolicyOptions.RecommendationFor(parsed.GetValue(Model)!));
        var lagKv = kvSettings.LagKv;
        string policy = kvSettings.Name;
        int port = parsed.GetValue(Port);
        if (port is < 0 or > 65535) throw new EngineException($"--port must be between 0 and 65535, got {port}");
        int maxQueue = parsed.GetValue(MaxQueue);
        if (maxQueue < 0) throw new EngineException($"--max-queue must be >= 0, got {maxQueue}");
        double grace = parsed.GetValue(ShutdownGrace);
        if (!(grace >= 0)) throw new EngineException($"--shutdown-grace must be >= 0 seconds, got {grace}");
        string? template = parsed.GetValue(ChatTemplate);
        if (template is not null && !File.Exists(template)) throw new EngineException($"--chat-template file '{template}' not found");
        return new ServerOptions
        {
            Model = parsed.GetValue(Model)!,
            Engine = EngineLoad.Read(parsed),
            ServedModelName = parsed.GetValue(ServedModelName),
            ApiKey = parsed.GetValue(ApiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable("ENGINE_API_KEY")),
            MaxQueue = maxQueue,
            ChatTemplatePath = template,
            DefaultKvPolicy = policy,
            DefaultLagKv = lagKv,
            Prefill = KvPolicyOptions.ParsePrefillChunk(parsed.GetValue(PrefillChunk), lagKv),
            ShutdownGrace = TimeSpan.FromSeconds(grace),
        };
    }

    /// <summary>
    /// How the engine is made: null for a model's own weights; with --random-weights, random weights of its
    /// shape (the config is checked here, before the server starts) and the text files of --tokenizer or of
    /// the model's local folder.
    /// </summary>
    public static Func<ServerOptions, Models.InferenceEngine>? ReadLoader(ParseResult parsed)
    {
        string? tokenizer = parsed.GetValue(Tokenizer);
        if (RandomWeights.Read(parsed) is not { } random)
        {
            if (tokenizer is not null) throw new EngineException("--tokenizer applies to --random-weights; a model's own tokenizer is used otherwise");
            return null;
        }
        if (tokenizer is not null && !Directory.Exists(tokenizer)) throw new EngineException($"--tokenizer folder '{tokenizer}' not found");
        string model = parsed.GetValue(Model)!;
        var config = RandomWeightsSpec.Config(model);
        string? textFolder = tokenizer ?? LocalTextFolder(model);
        return options => random.Load(options.Model, config, options.Engine, textFolder);
    }

    /// <summary>The model's own folder when it is present locally and holds a tokenizer; null otherwise.</summary>
    private static string? LocalTextFolder(string model)
    {
        try
        {
            string folder = ModelLocator.ResolveFolder(model);
            return TextTokenizer.ExistsIn(folder) ? folder : null;
        }
        catch (EngineException)
        {
            return null; // a registry shape not downloaded: token ids only
        }
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private static async Task<int> ExecuteAsync(ParseResult parsed)
    {
        var stderr = parsed.InvocationConfiguration.Error;
        var options = ReadOptions(parsed);
        var load = ReadLoader(parsed);
        await using var server = EngineServerHost.Create(options, parsed.GetValue(Host)!, parsed.GetValue(Port), load);
        await server.StartAsync();
        stderr.WriteLine($"engine: serving '{options.ModelId}' on {server.Address} (OpenAI API at {server.Address}v1, chat page at {server.Address}); loading the model...");
        var running = server.WaitForShutdownAsync();
        await Task.WhenAny(server.Gateway.Loading, running);
        if (server.Gateway.LoadError is { } error)
        {
            await server.StopAsync();
            throw new EngineException(error);
        }
        if (server.Gateway.IsReady)
        {
            var engine = server.Gateway.Engine;
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"engine: model loaded{(load is null ? "" : " (random weights)")} on {engine.Backend.Name} in {engine.LoadMs / 1000:0.0} s; context {engine.ContextLimit}, {engine.Cache.PageCount} KV pages of {engine.Cache.PageSize} slots; default KV policy {options.DefaultKvPolicy}"));
            if (engine.QuantizationSummary is { } quantized) stderr.WriteLine($"engine: {quantized}");
        }
        await running;
        stderr.WriteLine("engine: stopped");
        return 0;
    }
}
