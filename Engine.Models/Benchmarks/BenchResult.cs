using System.Text.Json.Nodes;

namespace Engine.Models.Benchmarks;

/// <summary>Median, minimum and maximum of repeated measurements.</summary>
public sealed record Spread(double Median, double Min, double Max)
{
    public static Spread Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no measurements", nameof(values));
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return new Spread(median, sorted[0], sorted[^1]);
    }

    public JsonObject ToJson() => new() { ["median"] = Median, ["min"] = Min, ["max"] = Max };
}

/// <summary>
/// What `engine bench` reports: throughput of prefill and decode over repeated requests, the model's
/// memory footprint, and how close decode came to the memory-bandwidth roofline (decode reads every
/// weight and the KV cache once per token, so bytes per token x tokens/s is the bandwidth it used).
/// </summary>
public sealed record BenchResult
{
    public required string Model { get; init; }
    public required string Device { get; init; }
    /// <summary>CPU worker threads (0 where the backend is a GPU).</summary>
    public required int Threads { get; init; }
    /// <summary>Weight dtype ("BF16", ...).</summary>
    public required string DType { get; init; }
    public required bool RandomWeights { get; init; }
    public required int PromptTokens { get; init; }
    public required int GenTokens { get; init; }
    public required int Repetitions { get; init; }
    public required Spread PrefillTokensPerSecond { get; init; }
    public required Spread DecodeTokensPerSecond { get; init; }
    /// <summary>Median time to first token.</summary>
    public required double TtftMs { get; init; }
    public required long WeightBytes { get; init; }
    public required long KvBytesPerToken { get; init; }
    /// <summary>Weights and KV read per decode step at the run's mean context.</summary>
    public required long DecodeBytesPerToken { get; init; }
    public required long PeakHostBytes { get; init; }
    public required long PeakDeviceBytes { get; init; }
    /// <summary>The machine's measured read bandwidth (null where it was not measured, e.g. for a GPU).</summary>
    public required double? MeasuredBandwidthGbps { get; init; }
    /// <summary>Launches, host syncs and host-device bytes per decode token (the last repetition); null where the backend does not count launches.</summary>
    public DecodeCounters? Counters { get; init; }
    /// <summary>ILGPU devices: "fast" or "portable" (forced, or a fast kernel failed its self-check); null elsewhere.</summary>
    public string? Kernels { get; init; }

    /// <summary>Bandwidth decode achieved: bytes read per token x median tokens per second.</summary>
    public double DecodeBandwidthGbps => DecodeBytesPerToken * DecodeTokensPerSecond.Median / 1e9;
    public double? RooflineFraction => MeasuredBandwidthGbps is > 0 ? DecodeBandwidthGbps / MeasuredBandwidthGbps : null;

    /// <summary>One JSON object with snake_case fields (what --json prints and --record appends).</summary>
    public JsonObject ToJson()
    {
        var json = new JsonObject
        {
            ["model"] = Model,
            ["device"] = Device,
            ["threads"] = Threads,
            ["dtype"] = DType,
            ["random_weights"] = RandomWeights,
            ["prompt_tokens"] = PromptTokens,
            ["gen_tokens"] = GenTokens,
            ["repetitions"] = Repetitions,
            ["prefill_tokens_per_s"] = PrefillTokensPerSecond.ToJson(),
            ["decode_tokens_per_s"] = DecodeTokensPerSecond.ToJson(),
            ["ttft_ms"] = TtftMs,
            ["weight_bytes"] = WeightBytes,
            ["kv_bytes_per_token"] = KvBytesPerToken,
            ["decode_bytes_per_token"] = DecodeBytesPerToken,
            ["peak_host_bytes"] = PeakHostBytes,
            ["peak_device_bytes"] = PeakDeviceBytes,
            ["decode_bandwidth_gbps"] = DecodeBandwidthGbps,
            ["measured_bandwidth_gbps"] = MeasuredBandwidthGbps,
            ["roofline_fraction"] = RooflineFraction,
        };
        if (Kernels is not null) json["kernels"] = Kernels;
        Counters?.AddTo(json);
        return json;
    }
}
