using System.CommandLine;
using System.Globalization;
using Engine.Core;
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
        var model = CommonOptions.Model(CommonOptions.ModelDescription + " (required unless --server)");
        model.Required = false;
        var device = CommonOptions.Device();
        var threads = CommonOptions.Threads();
        var kernels = KernelSetOption.Create();
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length", DefaultValueFactory = _ => 512 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens generated per request", DefaultValueFactory = _ => 128 };
        var repetitions = new Option<int>("--repetitions") { Description = "Timed requests (after one warm-up)", DefaultValueFactory = _ => 5 };
        var quantize = QuantizeOption.Create();
        var context = new Option<int?>("--context") { Description = "Measure decode at this cache length: a prompt of N tokens, prefilled in chunks, then --gen-tokens (replaces --prompt-tokens)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of a table" };
        var record = new Option<string?>("--record") { Description = "Append the JSON result as one line to this file" };
        var concurrency = new Option<string?>("--concurrency") { Description = "Levels of concurrent requests, e.g. 1,4,8,16: aggregate and per-sequence speed, TTFT and inter-token latency per level (--repetitions unused)" };
        var probeMiB = new Option<int>("--bandwidth-probe-mib") { Description = "MiB read to measure the CPU's memory bandwidth (must dwarf the caches)", DefaultValueFactory = _ => 1024 };
        var command = new Command("bench", "Measure prefill and decode speed, memory and bandwidth roofline of a model");
        foreach (var option in new Option[] { model, device, threads, kernels, quantize, promptTokens, genTokens, repetitions, context, json, record, probeMiB, concurrency })
            command.Options.Add(option);
        var randomWeights = new RandomWeightsOptions();
        randomWeights.AddTo(command);
        var kvPolicy = new KvPolicyOptions();
        kvPolicy.AddTo(command);
        var serverBench = new ServerBenchOptions();
        serverBench.AddTo(command);
        command.SetAction(new Func<ParseResult, int>(pr =>
        {
            if (serverBench.TryRun(pr, pr.GetValue(promptTokens), pr.GetValue(genTokens), pr.GetValue(json)) is { } exit) return exit;
            if (pr.GetValue(model) is null) throw new EngineException("--model is required (or --server URL to load-test a running server)");
            var settings = BenchContext.Settings(pr.GetValue(context), pr.GetResult(promptTokens) is { Implicit: false }, pr.GetValue(promptTokens), pr.GetValue(genTokens), pr.GetValue(repetitions));
            settings.Validate();
            var stderr = pr.InvocationConfiguration.Error;
            var kvSettings = kvPolicy.Read(pr, KvPolicyOptions.RecommendationFor(pr.GetValue(model)!));
            var lagKv = kvSettings.LagKv;
            if (pr.GetValue(probeMiB) < 16) throw new EngineException($"--bandwidth-probe-mib must be at least 16, got {pr.GetValue(probeMiB)}");
            var options = new EngineOptions
            {
                Device = pr.GetValue(device)!,
                Threads = CommonOptions.ReadThreads(pr, threads),
                Kernels = KernelSetOption.Read(pr, kernels),
                Quantize = QuantizeOption.Read(pr, quantize),
            };
            var randomSpec = randomWeights.Read(pr);
            bool random = randomSpec is not null;
            var output = pr.InvocationConfiguration.Output;
            bool asJson = pr.GetValue(json);
            // The shape first (cheap), so a request beyond the model's context fails before minutes of loading.
            string name = pr.GetValue(model)!;
            ModelConfig config = random ? RandomWeightsSpec.Config(name) : ModelConfigLoader.Load(ModelLocator.ResolveFolder(name));
            bool contextGiven = pr.GetValue(context) is not null;
            settings = BenchContext.Fit(settings, contextGiven || pr.GetResult(promptTokens) is { Implicit: false }, contextGiven, config.MaxPositionEmbeddings, name);
            options = options with { ContextLimit = settings.PromptTokens + settings.GenTokens };
            if (pr.GetValue(concurrency) is { } levelsText)
            {
                var levels = BenchConcurrency.ParseLevels(levelsText);
                var levelOptions = options with { PoolContexts = levels.Max() };
                using var levelEngine = randomSpec is not null ? randomSpec.Load(name, config, levelOptions)
                    : InferenceEngine.Load(name, levelOptions);
                var levelsJson = BenchConcurrency.Run(levelEngine, settings, levels, kvSettings.Create(levelEngine.Config.NumLayers),
                    lagKv is null ? PrefillSchedule.Default : LagKvPrefill.Auto(lagKv), asJson, output);
                if (pr.GetValue(record) is { } levelsFile) Append(levelsFile, levelsJson.ToJsonString());
                return 0;
            }

            KvBenchReport report;
            KvPolicyChoice policy;
            PrefillSchedule prefill = lagKv is null ? PrefillSchedule.Default : LagKvPrefill.Auto(lagKv);
            bool cpu;
            stderr.WriteLine($"bench: loading {name}{(random ? " (random weights)" : "")}...");
            using (var engine = randomSpec is not null ? randomSpec.Load(name, config, options) : InferenceEngine.Load(name, options))
            {
                policy = kvSettings.Create(engine.Config.NumLayers);
                if (engine.QuantizationSummary is { } quantized) stderr.WriteLine($"bench: {quantized}");
                if (kvSettings.CompressionWarning(settings.PromptTokens + settings.GenTokens, "the benchmark's requests") is { } warning)
                    pr.InvocationConfiguration.Error.WriteLine(warning);
                if (!asJson) output.WriteLine($"{engine.Name} on {engine.Backend.Name}: {settings.PromptTokens} prompt + {settings.GenTokens} generated tokens, {settings.Repetitions} run{(settings.Repetitions == 1 ? "" : "s")}");
                try
                {
                    report = KvPolicyBenchmark.Run(engine, settings, random, prefill, policy.Policy, (side, r, stats) =>
                    {
                        if (!asJson)
                            output.WriteLine(FormattableString.Invariant(
                                $"  {(policy.Policy is null ? "" : side + " ")}run {r + 1}: prefill {stats.PrefillTokensPerSecond:F1} tok/s, decode {stats.DecodeTokensPerSecond:F1} tok/s, ttft {stats.TimeToFirstTokenMs:F0} ms"));
                    }, progress: phase => stderr.WriteLine($"bench: {phase}..."));
                }
                finally { (policy.Policy as IDisposable)?.Dispose(); }
                cpu = engine.Backend.Kind == BackendKind.SimdCpu;
            }
            // Measured after the model is freed, so its buffer neither competes with the weights nor counts in the peak above.
            var result = report.Result;
            if (cpu) stderr.WriteLine($"bench: measuring memory bandwidth ({pr.GetValue(probeMiB)} MiB read)...");
            if (cpu) result = result with { MeasuredBandwidthGbps = MemoryBandwidthProbe.MeasureRead((long)pr.GetValue(probeMiB) << 20, result.Threads).MedianGbps };

            report = report with { Result = result };
            var jsonObject = report.ToJson(policy.Name, policy.LagKv, prefill.Description);
            if (asJson) output.WriteLine(jsonObject.ToJsonString(CliJson.Indented));
            else
            {
                WriteTable(result, output);
                KvBenchTable.Write(report, policy.Name, output);
            }
            if (pr.GetValue(record) is { } file) Append(file, jsonObject.ToJsonString(CliJson.Compact));
            return 0;
        }));
        return command;
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
