using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine gpu-report OUTDIR` (hidden): the summary of a scripts/gpu-check.sh run, from the JSON files it left
/// in OUTDIR: the steps, the device-vs-CPU greedy comparisons, the selftest, the benchmarks (with the PyTorch
/// peer's copy bandwidth and matmul peak when present). Prints one markdown table per part, writes
/// OUTDIR/summary.json, and exits non-zero when a correctness check failed. Written in C# so the bare GPU
/// machine needs neither python nor jq.
/// </summary>
internal static class GpuReportCommand
{
    /// <summary>Largest |logprob difference| allowed between the device and the CPU backend on a shared top-k id.</summary>
    public const double LogprobTolerance = 1e-2;

    public static Command Create()
    {
        var folder = new Argument<string>("OUTDIR") { Description = "The folder gpu-check.sh wrote" };
        var device = new Option<string>("--device") { Description = "The device the check ran on", DefaultValueFactory = _ => "cuda" };
        var command = new Command("gpu-report", "Summarize a scripts/gpu-check.sh run (one markdown table, summary.json)") { Hidden = true };
        command.Arguments.Add(folder);
        command.Options.Add(device);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            string dir = pr.GetValue(folder)!;
            if (!Directory.Exists(dir)) throw new EngineException($"no folder {dir}");
            var report = Build(dir, pr.GetValue(device)!);
            pr.InvocationConfiguration.Output.Write(report.Markdown);
            File.WriteAllText(Path.Combine(dir, "summary.json"), report.Json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return report.Passed ? 0 : 1;
        }));
        return command;
    }

    internal sealed record Report(string Markdown, JsonObject Json, bool Passed);

    internal static Report Build(string dir, string device)
    {
        var md = new StringBuilder();
        var json = new JsonObject { ["device"] = device };
        bool passed = true;
        var torch = Read(dir, "torch-peer.json");
        double? copyGbps = torch?["copy_bandwidth"]?["gbps"]?.GetValue<double>();
        double? matmulTflops = torch?["matmul_bf16"]?["tflops"]?.GetValue<double>();

        var doctor = Read(dir, "doctor-json.json");
        md.AppendLine($"# GPU check on {device}");
        md.AppendLine();
        if (doctor is not null)
        {
            md.AppendLine($"- {doctor["drivers"]?["cuda"]}");
            foreach (var d in doctor["cuda"]?.AsArray() ?? [])
                md.AppendLine($"- CUDA device: {d?["name"]}, compute capability {d?["computeCapability"]}, {Gib(d?["memoryBytes"])}");
            if (doctor["kernelSelfCheck"] is JsonObject check) md.AppendLine($"- kernels: {check["kernels"]} on {check["device"]}");
        }
        if (torch is not null)
            md.AppendLine(Invariant($"- PyTorch {torch["torch"]} on {torch["device"]}: bf16 matmul {matmulTflops:F1} TFLOP/s, copy {copyGbps:F0} GB/s"));
        md.AppendLine();

        // Steps.
        var steps = new JsonArray();
        string stepsFile = Path.Combine(dir, "steps.tsv");
        if (File.Exists(stepsFile))
        {
            md.AppendLine("| step | exit | seconds |");
            md.AppendLine("|---|---|---|");
            foreach (string line in File.ReadLines(stepsFile).Skip(1))
            {
                var f = line.Split('\t');
                if (f.Length < 3) continue;
                md.AppendLine($"| {f[0]} | {f[1]} | {f[2]} |");
                steps.Add(new JsonObject { ["step"] = f[0], ["exit"] = f[1], ["seconds"] = f[2] });
            }
            md.AppendLine();
        }
        json["steps"] = steps;

        // Device vs CPU greedy.
        var greedy = new JsonArray();
        foreach (string file in Directory.GetFiles(dir, "greedy-*-cpu.json").Order())
        {
            string name = Path.GetFileName(file)["greedy-".Length..^"-cpu.json".Length];
            var cpu = Read(dir, Path.GetFileName(file));
            var dev = Read(dir, $"greedy-{name}-device.json");
            if (dev is null || cpu is null) continue;
            var (tokensEqual, count, worst) = CompareGreedy(dev, cpu);
            bool ok = tokensEqual && worst <= LogprobTolerance;
            passed &= ok;
            greedy.Add(new JsonObject { ["model"] = name, ["tokens"] = count, ["tokens_equal"] = tokensEqual, ["max_logprob_difference"] = worst, ["passed"] = ok });
        }
        if (greedy.Count > 0)
        {
            md.AppendLine($"| greedy, {device} vs cpu | tokens | tokens equal | max logprob difference | |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var g in greedy)
                md.AppendLine(Invariant($"| {g!["model"]} | {g["tokens"]} | {g["tokens_equal"]} | {g["max_logprob_difference"]!.GetValue<double>():G3} | {(g["passed"]!.GetValue<bool>() ? "ok" : "FAIL")} |"));
            md.AppendLine();
        }
        json["greedy"] = greedy;

        // Selftest.
        if (Read(dir, "selftest.json") is { } selftest)
        {
            var cases = selftest["cases"]?.AsArray() ?? [];
            var failures = cases.Where(c => c?["passed"]?.GetValue<bool>() != true).Select(c => c!["name"]!.ToString()).ToArray();
            bool ok = selftest["passed"]?.GetValue<bool>() == true;
            passed &= ok;
            md.AppendLine($"selftest on {selftest["device"]}: {(ok ? "passed" : "FAILED")}, {cases.Count - failures.Length} of {cases.Count} op cases" +
                          (failures.Length > 0 ? $"; failed: {string.Join(", ", failures)}" : "") + $"; kernels {selftest["kernels"] ?? "-"}");
            md.AppendLine();
            json["selftest"] = new JsonObject { ["passed"] = ok, ["cases"] = cases.Count, ["failed"] = new JsonArray(failures.Select(f => (JsonNode)f).ToArray()) };
        }

        // Benchmarks.
        var benches = new JsonArray();
        foreach (string file in Directory.GetFiles(dir, "bench-*.json").Order())
        {
            var b = Read(dir, Path.GetFileName(file));
            if (b is null) continue;
            double decode = Median(b["decode_tokens_per_s"]), prefill = Median(b["prefill_tokens_per_s"]);
            double bytesPerToken = b["decode_bytes_per_token"]?.GetValue<double>() ?? 0;
            double bandwidth = bytesPerToken * decode / 1e9;
            var row = new JsonObject
            {
                ["model"] = b["model"]?.ToString(),
                ["prompt_tokens"] = b["prompt_tokens"]?.GetValue<int>(),
                ["gen_tokens"] = b["gen_tokens"]?.GetValue<int>(),
                ["kernels"] = b["kernels"]?.ToString(),
                ["prefill_tokens_per_s"] = prefill,
                ["decode_tokens_per_s"] = decode,
                ["full_prefill_tokens_per_s"] = Median(b["baseline"]?["prefill_tokens_per_s"]),
                ["full_decode_tokens_per_s"] = Median(b["baseline"]?["decode_tokens_per_s"]),
                ["lagkv_kv_bytes_vs_full"] = b["kv_policy"]?["kv_bytes_vs_baseline"]?.GetValue<double>(),
                ["compression_share_of_prefill"] = b["kv_policy"]?["compression_share_of_prefill"]?.GetValue<double>(),
                ["decode_bandwidth_gbps"] = bandwidth,
                ["decode_fraction_of_copy_bandwidth"] = copyGbps is > 0 ? bandwidth / copyGbps : null,
                ["prefill_tflops"] = 2.0 * (b["weight_bytes"]?.GetValue<double>() ?? 0) / 2 * prefill / 1e12,
                ["kernel_launches_per_token"] = b["kernel_launches_per_token"]?.GetValue<double>(),
                ["host_syncs_per_token"] = b["host_syncs_per_token"]?.GetValue<double>(),
                ["host_device_bytes_per_token"] = b["host_device_bytes_per_token"]?.GetValue<double>(),
            };
            if (matmulTflops is > 0) row["prefill_fraction_of_matmul_peak"] = row["prefill_tflops"]!.GetValue<double>() / matmulTflops;
            benches.Add(row);
        }
        if (benches.Count > 0)
        {
            md.AppendLine("| shape | prompt | kernels | prefill tok/s (full) | decode tok/s (full) | LagKV 8x KV vs full | compression share of prefill | decode GB/s | of copy BW | prefill TFLOP/s (2 x params) | launches/tok | syncs/tok | host bytes/tok |");
            md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
            foreach (var r in benches)
                md.AppendLine(
                    $"| {r!["model"]} | {r["prompt_tokens"]} | {r["kernels"] ?? "-"} | {Num(r["prefill_tokens_per_s"], "F1")} ({Num(r["full_prefill_tokens_per_s"], "F1")}) | " +
                    $"{Num(r["decode_tokens_per_s"], "F1")} ({Num(r["full_decode_tokens_per_s"], "F1")}) | {Num(r["lagkv_kv_bytes_vs_full"], "P0")} | " +
                    $"{Num(r["compression_share_of_prefill"], "P1")} | {Num(r["decode_bandwidth_gbps"], "F0")} | {Num(r["decode_fraction_of_copy_bandwidth"], "P0")} | " +
                    $"{Num(r["prefill_tflops"], "F1")} | {Num(r["kernel_launches_per_token"], "F0")} | {Num(r["host_syncs_per_token"], "F1")} | {Num(r["host_device_bytes_per_token"], "F0")} |");
            md.AppendLine();
        }
        json["bench"] = benches;

        if (torch?["runs"] is JsonArray runs && runs.Count > 0)
        {
            md.AppendLine("| PyTorch eager bf16 peer | layers | prompt | prefill tok/s | decode tok/s |");
            md.AppendLine("|---|---|---|---|---|");
            foreach (var r in runs)
                md.AppendLine(Invariant($"| {r!["shape"]} | {r["layers"]} | {r["prompt_tokens"]} | {Num(r["prefill_tokens_per_s"], "F1")} | {Num(r["decode_tokens_per_s"], "F1")} |"));
            md.AppendLine();
            json["torch_peer"] = torch.DeepClone();
        }
        json["passed"] = passed;
        md.AppendLine(passed ? "correctness checks: passed" : "correctness checks: FAILED");
        return new Report(md.ToString(), json, passed);
    }

    /// <summary>Whether the token ids agree, how many, and the largest logprob difference on ids both top-k lists hold.</summary>
    internal static (bool TokensEqual, int Count, double WorstLogprob) CompareGreedy(JsonObject device, JsonObject cpu)
    {
        var a = device["tokens"]?.AsArray().Select(t => t!.GetValue<int>()).ToArray() ?? [];
        var b = cpu["tokens"]?.AsArray().Select(t => t!.GetValue<int>()).ToArray() ?? [];
        double worst = 0;
        var la = device["logprobs"]?.AsArray();
        var lb = cpu["logprobs"]?.AsArray();
        if (la is not null && lb is not null)
            for (int step = 0; step < Math.Min(la.Count, lb.Count); step++)
            {
                var cpuTop = lb[step]!.AsArray().ToDictionary(t => t!["id"]!.GetValue<int>(), t => t!["logprob"]!.GetValue<double>());
                foreach (var t in la[step]!.AsArray())
                    if (cpuTop.TryGetValue(t!["id"]!.GetValue<int>(), out double expected))
                    {
                        double diff = Math.Abs(t["logprob"]!.GetValue<double>() - expected);
                        if (!(diff <= worst)) worst = diff;
                    }
            }
        return (a.Length > 0 && a.SequenceEqual(b), a.Length, worst);
    }

    private static JsonObject? Read(string dir, string name)
    {
        string path = Path.Combine(dir, name);
        if (!File.Exists(path)) return null;
        try { return JsonNode.Parse(File.ReadAllText(path)) as JsonObject; }
        catch (JsonException) { return null; }
    }

    private static double Median(JsonNode? spread) => spread?["median"]?.GetValue<double>() ?? double.NaN;
    private static string Gib(JsonNode? bytes) => bytes is null ? "?" : Invariant($"{bytes.GetValue<double>() / (1L << 30):F1} GiB");
    private static string Num(JsonNode? value, string format) =>
        value is null || !double.IsFinite(value.GetValue<double>()) ? "-" : value.GetValue<double>().ToString(format, CultureInfo.InvariantCulture);
    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
