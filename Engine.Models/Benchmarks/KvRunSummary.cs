using System.Text.Json.Nodes;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Models.Benchmarks;

/// <summary>
/// The KV cache of one benchmark side (with or without a policy) at the end of a request, and the time
/// its policy spent compressing: medians over the repetitions.
/// </summary>
public sealed record KvRunSummary
{
    /// <summary>Bytes of the KV pages the sequence held at its end (physical, all layers).</summary>
    public required long KvBytes { get; init; }
    /// <summary>Tokens seen, summed over layers.</summary>
    public required long LogicalSlots { get; init; }
    /// <summary>Slots held, summed over layers.</summary>
    public required long PhysicalSlots { get; init; }
    public required int CompressionsPerRequest { get; init; }
    public required double CompressionPrefillMs { get; init; }
    public required double CompressionDecodeMs { get; init; }
    /// <summary>Compression time over prefill time (compression included), per request; 0 without a policy.</summary>
    public required double CompressionShareOfPrefill { get; init; }
    public required double CompressionShareOfDecode { get; init; }

    /// <summary>Tokens seen per slot held: the achieved ratio, not the nominal per-partition one.</summary>
    public double CompressionRatio => PhysicalSlots == 0 ? 1 : (double)LogicalSlots / PhysicalSlots;

    /// <summary>Collects one entry per repetition; <see cref="Summarize"/> gives the medians.</summary>
    public sealed class Recorder(KvCompressionTimer? timer)
    {
        private readonly List<GenerationStats> _stats = [];
        private readonly List<(double PrefillMs, double DecodeMs, int Count)> _times = [];

        /// <summary>Before a timed request: the timer starts from zero (the warm-up is not counted).</summary>
        public void Begin() => timer?.Reset();

        /// <summary>After a request: its final statistics and the compression time it took.</summary>
        public void End(GenerationStats stats)
        {
            _stats.Add(stats);
            _times.Add((timer?.PrefillMs ?? 0, timer?.DecodeMs ?? 0, timer?.Compressions ?? 0));
        }

        public KvRunSummary Summarize()
        {
            if (_stats.Count == 0) throw new InvalidOperationException("no repetitions were recorded");
            var last = _stats[^1];
            return new KvRunSummary
            {
                KvBytes = last.KvBytes,
                LogicalSlots = last.Layers.Sum(l => (long)l.LogicalLength),
                PhysicalSlots = last.Layers.Sum(l => (long)l.PhysicalLength),
                CompressionsPerRequest = _times[^1].Count,
                CompressionPrefillMs = Spread.Of(_times.Select(t => t.PrefillMs).ToArray()).Median,
                CompressionDecodeMs = Spread.Of(_times.Select(t => t.DecodeMs).ToArray()).Median,
                CompressionShareOfPrefill = Spread.Of(_stats.Select((s, i) => Share(_times[i].PrefillMs, s.PrefillMs)).ToArray()).Median,
                CompressionShareOfDecode = Spread.Of(_stats.Select((s, i) => Share(_times[i].DecodeMs, s.DecodeMs)).ToArray()).Median,
            };
        }

        // Clamped: the clock around compression and the request's clock are read at slightly different instants.
        private static double Share(double part, double whole) => whole > 0 ? Math.Clamp(part / whole, 0, 1) : 0;
    }

    public JsonObject ToJson() => new()
    {
        ["kv_bytes"] = KvBytes,
        ["logical_slots"] = LogicalSlots,
        ["physical_slots"] = PhysicalSlots,
        ["compression_ratio"] = Math.Round(CompressionRatio, 4),
        ["compressions_per_request"] = CompressionsPerRequest,
        ["compression_prefill_ms"] = CompressionPrefillMs,
        ["compression_decode_ms"] = CompressionDecodeMs,
        ["compression_share_of_prefill"] = CompressionShareOfPrefill,
        ["compression_share_of_decode"] = CompressionShareOfDecode,
    };
}
