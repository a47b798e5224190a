using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Engine.Server.Bench;

/// <summary>What one load test sends: how many requests, how many at once, prompt and generation lengths.</summary>
public sealed record LoadSettings(Uri Server, int Concurrency, int Requests, int PromptTokens, int GenTokens, string? ApiKey = null)
{
    public void Validate()
    {
        if (Concurrency < 1) throw new Core.EngineException($"--concurrency must be >= 1, got {Concurrency}");
        if (Requests < 1) throw new Core.EngineException($"--requests must be >= 1, got {Requests}");
        if (PromptTokens < 1) throw new Core.EngineException($"--prompt-tokens must be >= 1, got {PromptTokens}");
        if (GenTokens < 1) throw new Core.EngineException($"--gen-tokens must be >= 1, got {GenTokens}");
    }
}

/// <summary>
/// One request's timings: when its first token came, the gaps between tokens, its end; or why it failed.
/// <paramref name="ArrivalsMs"/> are the times (on the load test's clock) its chunks with text arrived.
/// </summary>
public sealed record RequestTiming(bool Ok, double TtftMs, double E2eMs, IReadOnlyList<double> ItlMs, int OutputTokens, string? Error,
    IReadOnlyList<double>? ArrivalsMs = null);

/// <summary>
/// A load generator in the manner of vLLM's `bench serve`: N clients send M streamed completions of P
/// prompt tokens (token ids, so the length is exact) and G generated tokens (EOS ignored) to a running
/// server, and time every token as it arrives.
/// </summary>
public static class ServerLoadGenerator
{
    private const string Filler = "The quick brown fox jumps over the lazy dog while the children play in the park and the sun shines. ";

    public static async Task<LoadReport> RunAsync(LoadSettings settings, CancellationToken cancellation = default)
    {
        settings.Validate();
        using var http = new HttpClient { BaseAddress = settings.Server, Timeout = TimeSpan.FromMinutes(30) };
        if (settings.ApiKey is { } key) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var (model, prompt) = await PrepareAsync(http, settings, cancellation);
        string body = new JsonObject
        {
            ["model"] = model,
            ["prompt"] = new JsonArray(prompt.Select(id => (JsonNode)id).ToArray()),
            ["max_tokens"] = settings.GenTokens,
            ["ignore_eos"] = true,
            ["temperature"] = 0,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        }.ToJsonString();

        var timings = new RequestTiming[settings.Requests];
        int next = -1;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        double? serverCpu = await ServerCpuSecondsAsync(http, cancellation);
        var clock = Stopwatch.StartNew();
        async Task Client()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < settings.Requests)
                timings[i] = await TimeOneAsync(http, body, clock, cancellation);
        }
        await Task.WhenAll(Enumerable.Range(0, settings.Concurrency).Select(_ => Task.Run(Client, cancellation)));
        double seconds = clock.Elapsed.TotalSeconds;
        // The load generator shares the machine with the server: what it used is reported beside the results.
        double clientCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        double? serverCpuUsed = await ServerCpuSecondsAsync(http, cancellation) - serverCpu;
        return LoadReport.From(settings, model, seconds, timings, clientCpu, serverCpuUsed);
    }

    /// <summary>The server's process_cpu_seconds_total from /metrics, or null when it exposes none.</summary>
    private static async Task<double?> ServerCpuSecondsAsync(HttpClient http, CancellationToken cancellation)
    {
        try
        {
            using var response = await http.GetAsync("/metrics", cancellation);
            if (!response.IsSuccessStatusCode) return null;
            foreach (string line in (await response.Content.ReadAsStringAsync(cancellation)).Split('\n'))
                if (line.StartsWith("process_cpu_seconds_total ", StringComparison.Ordinal)
                    && double.TryParse(line["process_cpu_seconds_total ".Length..], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double value))
                    return value;
            return null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>
    /// The served model's id and a prompt of exactly P token ids: filler text tokenized by the server, or
    /// (when the server has no tokenizer, e.g. random weights) ids spread over the first 256 of the vocabulary.
    /// </summary>
    private static async Task<(string Model, int[] Prompt)> PrepareAsync(HttpClient http, LoadSettings settings, CancellationToken cancellation)
    {
        JsonNode models;
        try
        {
            models = JsonNode.Parse(await http.GetStringAsync("/v1/models", cancellation))!;
        }
        catch (HttpRequestException e)
        {
            throw new Core.EngineException($"cannot reach the server at {settings.Server}: {e.Message}");
        }
        string model = models["data"]![0]!["id"]!.GetValue<string>();
        string text = string.Concat(Enumerable.Repeat(Filler, settings.PromptTokens / 10 + 1));
        using var response = await http.PostAsync("/tokenize",
            new StringContent(new JsonObject { ["content"] = text }.ToJsonString(), Encoding.UTF8, "application/json"), cancellation);
        if (response.StatusCode == System.Net.HttpStatusCode.BadRequest)
            return (model, Enumerable.Range(0, settings.PromptTokens).Select(i => 1 + i * 37 % 255).ToArray());
        if (!response.IsSuccessStatusCode) throw new Core.EngineException($"/tokenize answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellation)}");
        var ids = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellation))!["tokens"]!.AsArray().Select(t => t!.GetValue<int>()).ToArray();
        return (model, ids.Take(settings.PromptTokens).ToArray());
    }

    private static async Task<RequestTiming> TimeOneAsync(HttpClient http, string body, Stopwatch run, CancellationToken cancellation)
    {
        double start = run.Elapsed.TotalMilliseconds;
        double Now() => run.Elapsed.TotalMilliseconds - start;
        var arrivals = new List<double>();
        var gaps = new List<double>();
        int tokens = 0;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellation);
            if (!response.IsSuccessStatusCode)
                return new RequestTiming(false, 0, Now(), [], 0, $"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellation)}");
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellation));
            while (await reader.ReadLineAsync(cancellation) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                var data = line.AsMemory("data: ".Length);
                if (data.Span.SequenceEqual("[DONE]")) break;
                double now = Now();
                // JsonDocument reads from pooled buffers: the client stays light beside the server it measures.
                using var chunk = JsonDocument.Parse(data);
                var root = chunk.RootElement;
                if (root.TryGetProperty("error", out var error))
                    return new RequestTiming(false, 0, Now(), [], tokens, error.TryGetProperty("message", out var m) ? m.GetString() : error.ToString());
                if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                    tokens = usage.GetProperty("completion_tokens").GetInt32();
                if (root.TryGetProperty("choices", out var choices) && choices.GetArrayLength() > 0
                    && choices[0].TryGetProperty("finish_reason", out var finish) && finish.ValueKind == JsonValueKind.Null)
                {
                    if (arrivals.Count > 0) gaps.Add(now - arrivals[^1]);
                    arrivals.Add(now);
                }
            }
            return new RequestTiming(true, arrivals.Count > 0 ? arrivals[0] : 0, Now(), gaps, tokens, null, arrivals.Select(t => t + start).ToArray());
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException)
        {
            return new RequestTiming(false, 0, Now(), [], tokens, e.Message);
        }
    }
}
