using System.Diagnostics;
using System.Globalization;
using System.Text;
using Engine.Models.Generation;
using Engine.Server.Api;

namespace Engine.Server.Metrics;

/// <summary>
/// What GET /metrics reports (Prometheus text): token counters, latency histograms, finished requests by
/// reason, and per KV policy the slots seen and kept (their ratio is the achieved compression) and bytes saved.
/// Gauges of the moment (running, waiting, KV pages) are read from the gateway and the cache when scraped.
/// </summary>
public sealed class ServerMetrics
{
    private readonly Lock _lock = new();
    private long _promptTokens, _generationTokens;
    private readonly Dictionary<string, long> _finished = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Logical, long Physical, long BytesSaved)> _byPolicy = new(StringComparer.Ordinal);

    public Histogram TimeToFirstToken { get; } = new("engine_time_to_first_token_seconds", "Time from a request's start on the engine to its first token.", Histogram.LatencyBounds);
    public Histogram InterTokenLatency { get; } = new("engine_inter_token_latency_seconds", "Time between consecutive tokens of a request.", Histogram.LatencyBounds);
    public Histogram RequestLatency { get; } = new("engine_request_latency_seconds", "Time a request ran on the engine, first step to last.", Histogram.LatencyBounds);

    public void ObserveTimeToFirstToken(double seconds) => TimeToFirstToken.Observe(seconds);
    public void ObserveInterTokenLatency(double seconds) => InterTokenLatency.Observe(seconds);

    /// <summary>A completion ended (any reason): its tokens and timings.</summary>
    public void ObserveCompletion(Completion completion)
    {
        var s = completion.Stats;
        RequestLatency.Observe((s.PrefillMs + s.DecodeMs) / 1000);
        lock (_lock)
        {
            _promptTokens += s.PromptTokens;
            _generationTokens += s.GeneratedTokens;
            string reason = completion.FinishReason?.Name() ?? "error";
            _finished[reason] = _finished.GetValueOrDefault(reason) + 1;
        }
    }

    /// <summary>A request's KV at its end, counted under its policy.</summary>
    public void ObserveKv(KvReport kv)
    {
        lock (_lock)
        {
            var (l, p, b) = _byPolicy.GetValueOrDefault(kv.Policy);
            _byPolicy[kv.Policy] = (l + kv.LogicalSlots, p + kv.PhysicalSlots, b + kv.BytesSaved);
        }
    }

    public string Render(EngineGateway gateway)
    {
        var text = new StringBuilder();
        void Metric(string name, string type, string help, params (string Labels, double Value)[] samples)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
            foreach (var (labels, value) in samples)
                text.Append(name).Append(labels.Length > 0 ? "{" + labels + "}" : "").Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        // Prometheus' standard process metric: a load test reads it to report what the server used.
        Metric("process_cpu_seconds_total", "counter", "CPU time the server process used (user and system), in seconds.",
            ("", Math.Round(Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds, 3)));
        Metric("engine_model_loaded", "gauge", "1 when the model is loaded and requests are served.", ("", gateway.IsReady ? 1 : 0));
        Metric("engine_requests_running", "gauge", "Requests running on the engine.", ("", gateway.Running));
        Metric("engine_requests_waiting", "gauge", "Requests waiting for the engine.", ("", gateway.Waiting));
        if (gateway.IsReady)
        {
            var allocator = gateway.Engine.Cache;
            Metric("engine_kv_pages_total", "gauge", "KV pages in the pool.", ("", allocator.PageCount));
            Metric("engine_kv_pages_used", "gauge", "KV pages held by sequences.", ("", allocator.UsedPages));
            Metric("engine_kv_pages_free", "gauge", "KV pages free.", ("", allocator.FreePages));
        }
        lock (_lock)
        {
            Metric("engine_prompt_tokens_total", "counter", "Prompt tokens prefilled.", ("", _promptTokens));
            Metric("engine_generation_tokens_total", "counter", "Tokens generated.", ("", _generationTokens));
            Metric("engine_requests_finished_total", "counter", "Completions ended, by finish reason.",
                _finished.OrderBy(p => p.Key).Select(p => ($"finish_reason=\"{p.Key}\"", (double)p.Value)).ToArray());
            var policies = _byPolicy.OrderBy(p => p.Key).ToArray();
            Metric("engine_kv_logical_slots_total", "counter", "KV slots (tokens x layers) requests saw, by KV policy.",
                policies.Select(p => ($"policy=\"{p.Key}\"", (double)p.Value.Logical)).ToArray());
            Metric("engine_kv_physical_slots_total", "counter", "KV slots requests kept at their end, by KV policy.",
                policies.Select(p => ($"policy=\"{p.Key}\"", (double)p.Value.Physical)).ToArray());
            Metric("engine_kv_compression_ratio", "gauge", "Slots seen per slot kept over all requests, by KV policy.",
                policies.Select(p => ($"policy=\"{p.Key}\"", p.Value.Physical == 0 ? 1.0 : Math.Round((double)p.Value.Logical / p.Value.Physical, 4))).ToArray());
            Metric("engine_kv_bytes_saved_total", "counter", "KV bytes not held thanks to compression, by KV policy.",
                policies.Select(p => ($"policy=\"{p.Key}\"", (double)p.Value.BytesSaved)).ToArray());
        }
        TimeToFirstToken.WriteTo(text);
        InterTokenLatency.WriteTo(text);
        RequestLatency.WriteTo(text);
        return text.ToString();
    }
}
