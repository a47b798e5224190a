using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Engine.Models;
using Engine.Server;
using Engine.Server.Hosting;
using Engine.Tests.Support;

namespace Engine.Tests.Server;

/// <summary>
/// An in-process `engine serve` on 127.0.0.1 and a free port, serving stories260K on the CPU with a small
/// chat template (the model has none), and an HttpClient bound to it. Every wait is bounded.
/// </summary>
public sealed class TestServer : IAsyncDisposable
{
    public const string ModelName = "stories260K";
    public const string ChatTemplate =
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";

    private readonly TempFolder _folder;

    private TestServer(EngineServerHost host, TempFolder folder)
    {
        Host = host;
        _folder = folder;
        Http = new HttpClient { BaseAddress = host.Address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public EngineServerHost Host { get; }
    public HttpClient Http { get; }
    public Uri Address => Host.Address;
    public Uri ApiBase => new(Host.Address, "/v1");

    public static string ModelFolder => SharedAssets.Require("models", "stories260K");

    /// <param name="configure">Changes to the default options (key, queue, KV policy...).</param>
    /// <param name="load">A custom engine loader (default: stories260K on the CPU).</param>
    /// <param name="waitReady">Wait until the model has loaded (up to a minute).</param>
    public static async Task<TestServer> StartAsync(Func<ServerOptions, ServerOptions>? configure = null,
        Func<ServerOptions, InferenceEngine>? load = null, bool waitReady = true)
    {
        string model = ModelFolder;
        var folder = new TempFolder();
        string template = folder.File("chat_template.jinja");
        await File.WriteAllTextAsync(template, ChatTemplate);
        var options = new ServerOptions
        {
            Model = model,
            Engine = new EngineOptions { Device = "cpu", Threads = 1 },
            ChatTemplatePath = template,
            ShutdownGrace = TimeSpan.FromSeconds(2),
        };
        if (configure is not null) options = configure(options);
        var host = EngineServerHost.Create(options, "127.0.0.1", 0, load);
        await host.StartAsync();
        var server = new TestServer(host, folder);
        if (waitReady)
        {
            await host.Gateway.Loading.WaitAsync(TimeSpan.FromSeconds(60));
            if (host.Gateway.LoadError is { } error) throw new InvalidOperationException(error);
        }
        return server;
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json, string? apiKey = null, CancellationToken cancellation = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
    }

    public async Task<JsonObject> PostForJsonAsync(string path, string json)
    {
        using var response = await PostJsonAsync(path, json);
        string body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    /// <summary>The `data:` payloads of an SSE response, in order.</summary>
    public static List<string> SseEvents(string body) =>
        body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.StartsWith("data: ", StringComparison.Ordinal) ? e["data: ".Length..] : throw new FormatException($"not an SSE data event: {e}"))
            .ToList();

    /// <summary>Reads /metrics into name{labels} → value.</summary>
    public async Task<Dictionary<string, double>> MetricsAsync()
    {
        string text = await Http.GetStringAsync("/metrics");
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.LastIndexOf(' ');
            values[line[..space]] = double.Parse(line[(space + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        }
        return values;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Host.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await Host.DisposeAsync();
        _folder.Dispose();
    }
}
