using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Core.Hub;
using Engine.Cli.Formatting;
using Engine.Cli.Options;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Models;
using Engine.Models.Benchmarks;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine bench --model M`: prefill and decode throughput over repeated requests, memory footprint, and
/// decode's fraction of the machine's measured memory bandwidth (the roofline of a memory-bound step).
/// With a KV-cache policy (--lagkv ...) it also runs the full-cache baseline and compares KV bytes,
/// speeds and the time spent compressing; --context N measures decode at a cache length of N.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model: a registry name, an org/name repo id or a local folder", Required = true };
        var device = new Option<string>("--device") { Description = $"Device: {BackendFactory.Choices}", DefaultValueFactory = _ => "auto" };
        var threads = new Option<int>("--threads") { Description = "CPU worker threads (0: all cores)" };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length", DefaultValueFactory = _ => 512 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens generated per request", DefaultValueFactory = _ => 128 };
        var repetitions = new Option<int>("--repetitions") { Description = "Timed requests (after one warm-up)", DefaultValueFactory = _ => 5 };
        var randomWeights = new Option<bool>("--random-weights") { Description = "Random weights of the model's shape (needs only its config: models.json or config.json)" };
        var dtype = new Option<string?>("--dtype") { Description = "Weight dtype of --random-weights: bf16, f16 or f32 (default: the model's)" };
        var context = new Option<int?>("--context") { Description = "Measure decode at this cache length: a prompt of N tokens, prefilled in chunks, then --gen-tokens (replaces --prompt-tokens)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };
        var record = new Option<string?>("--record") { Description = "Append the JSON result as one line to this file" };
        var concurrency = new Option<string?>("--concurrency") { Description = "Levels of concurrent requests, e.g. 1,4,8,16: aggregate and per-sequence speed, TTFT and inter-token latency per level (--repetitions unused)" };
        var probeMiB = new Option<int>("--bandwidth-probe-mib") { Description = "MiB read to measure the CPU's memory bandwidth (must dwarf the caches)", DefaultValueFactory = _ => 1024 };
        var command = new Command("bench", "Measure prefill and decode speed, memory and bandwidth roofline of a model");
        foreach (var option in new Option[] { model, device, threads, promptTokens, genTokens, repetitions, randomWeights, dtype, context, json, record, probeMiB, concurrency })
            command.Options.Add(option);
        var kvPolicy = new KvPolicyOptions();
        kvPolicy.AddTo(command);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            var settings = BenchContext.Settings(pr.GetValue(context), pr.GetResult(promptTokens) is { Implicit: false }, pr.GetValue(promptTokens), pr.GetValue(genTokens), pr.GetValue(repetitions));
            settings.Validate();
            var lagKv = kvPolicy.ParseLagKv(pr);
            if (pr.GetValue(probeMiB) < 16) throw new EngineException($"--bandwidth-probe-mib must be at least 16, got {pr.GetValue(probeMiB)}");
            if (pr.GetValue(threads) < 0) throw new EngineException($"--threads must be 0 (all cores) or positive, got {pr.GetValue(threads)}");
            var options = new EngineOptions
            {
                Device = pr.GetValue(device)!,
                Threads = pr.GetValue(threads),
                ContextLimit = settings.PromptTokens + settings.GenTokens,
            };
            bool random = pr.GetValue(randomWeights);
            string? dtypeText = pr.GetValue(dtype);
            if (dtypeText is not null && !random)
                throw new EngineException("--dtype applies to --random-weights; a checkpoint's weights keep the dtype they are stored in");
            var output = pr.InvocationConfiguration.Output;
            bool asJson = pr.GetValue(json);
            if (pr.GetValue(concurrency) is { } levelsText)
            {
                var levels = BenchConcurrency.ParseLevels(levelsText);
                using var engine = random ? LoadRandom(pr.GetValue(model)!, dtypeText, options with { PoolContexts = levels.Max() })
                    : InferenceEngine.Load(pr.GetValue(model)!, options with { PoolContexts = levels.Max() });
                var levelsJson = BenchConcurrency.Run(engine, settings, levels, kvPolicy.Resolve(pr, engine.Config.NumLayers),
                    lagKv is null ? PrefillSchedule.Default : LagKvPrefill.Auto(lagKv), asJson, output);
                if (pr.GetValue(record) is { } levelsFile) Append(levelsFile, levelsJson.ToJsonString());
                return 0;
            }

            KvBenchReport report;
            KvPolicyChoice policy;
            PrefillSchedule prefill = lagKv is null ? PrefillSchedule.Default : LagKvPrefill.Auto(lagKv);
            bool cpu;
            using (var engine = random ? LoadRandom(pr.GetValue(model)!, dtypeText, options) : InferenceEngine.Load(pr.GetValue(model)!, options))
            {
                policy = kvPolicy.Resolve(pr, engine.Config.NumLayers);
                if (!asJson) output.WriteLine($"{engine.Name} on {engine.Backend.Name}: {settings.PromptTokens} prompt + {settings.GenTokens} generated tokens, {settings.Repetitions} run{(settings.Repetitions == 1 ? "" : "s")}");
                try
                {
                    report = KvPolicyBenchmark.Run(engine, settings, random, prefill, policy.Policy, (side, r, stats) =>
                    {
                        if (!asJson)
                            output.WriteLine(FormattableString.Invariant(
                                $"  {(policy.Policy is null ? "" : side + " ")}run {r + 1}: prefill {stats.PrefillTokensPerSecond:F1} tok/s, decode {stats.DecodeTokensPerSecond:F1} tok/s, ttft {stats.TimeToFirstTokenMs:F0} ms"));
                    });
                }
                finally { (policy.Policy as IDisposable)?.Dispose(); }
                cpu = engine.Backend.Kind == BackendKind.SimdCpu;
            }
            // Measured after the model is freed, so its buffer neither competes with the weights nor counts in the peak above.
            var result = report.Result;
            if (cpu) result = result with { MeasuredBandwidthGbps = MemoryBandwidthProbe.MeasureRead((long)pr.GetValue(probeMiB) << 20, result.Threads).MedianGbps };

            report = report with { Result = result };
            var jsonObject = report.ToJson(policy.Name, policy.LagKv, prefill.Description);
            if (asJson) output.WriteLine(jsonObject.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else
            {
                WriteTable(result, output);
                KvBenchTable.Write(report, policy.Name, output);
            }
            if (pr.GetValue(record) is { } file) Append(file, jsonObject.ToJsonString());
            return 0;
        }));
        return command;
    }

    /// <summary>An engine over random weights: the config from a local folder, else models.json, else the hub cache.</summary>
    private static InferenceEngine LoadRandom(string model, string? dtypeText, EngineOptions options)
    {
        ModelConfig config = Directory.Exists(model)
            ? ModelConfigLoader.Load(model)
            : ModelRegistry.Default.Find(model)?.Config ?? ModelConfigLoader.Load(ModelLocator.ResolveFolder(model));
        DType dtype = config.DType;
        if (dtypeText is not null && !(DTypes.TryParse(dtypeText, out dtype) && dtype != DType.I32))
            throw new EngineException($"--dtype '{dtypeText}' is not one of bf16, f16, f32");
        config = config with { DType = dtype };
        var backend = BackendFactory.Create(options.Device, options.Threads);
        try
        {
            using var checkpoint = new RandomCheckpoint(config, dtype);
            return InferenceEngine.Create(model, backend, checkpoint, config, options: options, ownsBackend: true);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    private static void WriteTable(BenchResult r, TextWriter o)
    {
        static string Rate(Spread s) => FormattableString.Invariant($"{s.Median:F1} tok/s (min {s.Min:F1}, max {s.Max:F1})");
        static string Bytes(long n) => FormattableString.Invariant($"{n / 1e6:F1} MB");
        var rows = new List<(string, string)>
        {
            ("device", r.Device),
            ("dtype", r.DType + (r.RandomWeights ? " (random weights)" : "")),
            ("prefill", Rate(r.PrefillTokensPerSecond)),
            ("decode", Rate(r.DecodeTokensPerSecond)),
            ("time to first token", FormattableString.Invariant($"{r.TtftMs:F1} ms")),
            ("weights", Bytes(r.WeightBytes)),
            ("kv per token", FormattableString.Invariant($"{r.KvBytesPerToken / 1e3:F1} kB")),
            ("peak host memory", Bytes(r.PeakHostBytes)),
            ("peak device memory", Bytes(r.PeakDeviceBytes)),
            ("decode bandwidth", FormattableString.Invariant($"{r.DecodeBandwidthGbps:F1} GB/s ({Bytes(r.DecodeBytesPerToken)} per token)")),
            ("measured bandwidth", r.MeasuredBandwidthGbps is { } m ? FormattableString.Invariant($"{m:F1} GB/s") : "not measured for this device"),
            ("roofline fraction", r.RooflineFraction is { } f ? f.ToString("P0", CultureInfo.InvariantCulture) : "-"),
        };
        int width = rows.Max(row => row.Item1.Length) + 2;
        foreach (var (key, value) in rows) o.WriteLine(key.PadRight(width) + value);
    }

    private static void Append(string file, string line)
    {
        try { File.AppendAllText(file, line + Environment.NewLine); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EngineException($"cannot write --record file {file}: {e.Message}");
        }
    }
}
