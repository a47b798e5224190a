using System.Text.Json.Nodes;
using Engine.Core.Kv.LagKv;

namespace Engine.Models.Benchmarks;

/// <summary>
/// A benchmark with a KV-cache policy and, in the same run, its baseline: the same requests and the
/// same prefill chunking with the full cache, so the difference is the policy alone.
/// </summary>
/// <param name="Result">The run with the policy (the full cache when there is none).</param>
/// <param name="Kv">Its KV cache at the end and its compression time.</param>
/// <param name="Baseline">The full-cache run; null when no policy was given.</param>
/// <param name="BaselineKv">Its KV cache at the end.</param>
public sealed record KvBenchReport(BenchResult Result, KvRunSummary Kv, BenchResult? Baseline, KvRunSummary? BaselineKv)
{
    /// <summary>
    /// <see cref="BenchResult.ToJson"/> plus "prefill_schedule" and "kv_bytes", and with a policy a
    /// "kv_policy" object (its parameters, KV at the end, compression time and shares) and a "baseline"
    /// object (the full-cache run's speeds and KV bytes).
    /// </summary>
    public JsonObject ToJson(string policyName, LagKvOptions? lagKv, string prefillSchedule)
    {
        JsonObject root = Result.ToJson();
        root["prefill_schedule"] = prefillSchedule;
        root["kv_bytes"] = Kv.KvBytes;
        if (Baseline is null || BaselineKv is null) return root;

        var policy = new JsonObject { ["policy"] = policyName };
        if (lagKv is not null) policy["lagkv"] = lagKv.ToJson();
        foreach (var (key, value) in Kv.ToJson().ToArray())
            policy[key] = value?.DeepClone();
        policy["kv_bytes_vs_baseline"] = BaselineKv.KvBytes > 0 ? Math.Round((double)Kv.KvBytes / BaselineKv.KvBytes, 4) : null;
        root["kv_policy"] = policy;
        root["baseline"] = new JsonObject
        {
            ["prefill_tokens_per_s"] = Baseline.PrefillTokensPerSecond.ToJson(),
            ["decode_tokens_per_s"] = Baseline.DecodeTokensPerSecond.ToJson(),
            ["ttft_ms"] = Baseline.TtftMs,
            ["kv_bytes"] = BaselineKv.KvBytes,
            ["compression_ratio"] = Math.Round(BaselineKv.CompressionRatio, 4),
            ["peak_device_bytes"] = Baseline.PeakDeviceBytes,
        };
        return root;
    }
}
