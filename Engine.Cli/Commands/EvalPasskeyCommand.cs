using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Models.Evaluation;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Spectre.Console;
using Engine.Cli.Options;
using Engine.Cli.Formatting;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine eval passkey --model M [--haystack-dir DIR] [--lengths ...] [--depths N] [--keys N]
/// [--lagkv Nx | --policy P --ratio Nx] [--lag-size L] [--sink-size S] [--json]`: the 64-digit passkey
/// retrieval protocol of docs/lagkv.md; prints the length x depth grid of partial-match scores and
/// the exact / partial match averages. Lengths whose prompt and answer exceed the context are skipped.
/// </summary>
internal static class EvalPasskeyCommand
{
    private const string DefaultLengths = "512,1024,2048,3072,4096,6144,8192,12288,16384,20480";

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var haystackDir = new Option<string?>("--haystack-dir") { Description = "Folder of .txt files for the haystack (default: built-in filler text)" };
        var lengths = new Option<string>("--lengths") { Description = "Haystack lengths in words, comma-separated", DefaultValueFactory = _ => DefaultLengths };
        var depths = new Option<int>("--depths") { Description = "Needle depths, evenly from 0 to 1", DefaultValueFactory = _ => 10 };
        var keys = new Option<int>("--keys") { Description = "Random keys per (length, depth) cell", DefaultValueFactory = _ => 3 };
        var lagkv = new Option<string?>("--lagkv") { Description = "Compress with LagKV at this ratio (Nx or r=F); default: full cache" };
        var policy = new Option<string?>("--policy") { Description = "lagkv, streaming, snapkv, h2o or full (the baselines at LagKV's budget for --lagkv)" };
        var lagSize = new Option<int>("--lag-size") { Description = "LagKV partition size L", DefaultValueFactory = _ => LagKvOptions.DefaultLagSize };
        var sinkSize = new Option<int>("--sink-size") { Description = "LagKV sink size S", DefaultValueFactory = _ => LagKvOptions.DefaultSinkSize };
        var newTokens = new Option<int>("--max-new-tokens") { Description = "Tokens generated per answer", DefaultValueFactory = _ => PasskeyEvaluation.DefaultNewTokens };
        var seed = new Option<int>("--seed") { Description = "Seed of the keys and the filler text", DefaultValueFactory = _ => 42 };
        var device = CommonOptions.Device();
        var json = new Option<bool>("--json") { Description = "Print the results as JSON" };

        var command = new Command("passkey", "64-digit passkey retrieval over a length x depth grid, with or without KV compression");
        foreach (var option in new Option[] { model, haystackDir, lengths, depths, keys, lagkv, policy, lagSize, sinkSize, newTokens, seed, device, json })
            command.Options.Add(option);
        command.SetAction(new Func<ParseResult, int>(parsed =>
        {
            int[] wordCounts = ParseLengths(parsed.GetValue(lengths)!);
            int depthCount = parsed.GetValue(depths), keyCount = parsed.GetValue(keys), maxNew = parsed.GetValue(newTokens);
            if (depthCount < 1) throw new EngineException($"--depths must be at least 1, got {depthCount}");
            if (keyCount < 1) throw new EngineException($"--keys must be at least 1, got {keyCount}");
            if (maxNew < 1) throw new EngineException($"--max-new-tokens must be at least 1, got {maxNew}");
            string? ratio = parsed.GetValue(lagkv);
            KvEvalPolicy kind = parsed.GetValue(policy) is { } p ? KvEvalPolicyNames.Parse(p).Single()
                : ratio is null ? KvEvalPolicy.Full : KvEvalPolicy.LagKv;
            if (kind != KvEvalPolicy.Full && ratio is null) throw new EngineException($"--policy {KvEvalPolicyNames.Name(kind)} needs --lagkv RATIO to set its budget");
            var options = new LagKvOptions
            {
                Retention = ratio is null ? 0.5 : LagKvText.ParseRetention(ratio), LagSize = parsed.GetValue(lagSize), SinkSize = parsed.GetValue(sinkSize),
            };

            var eval = EvalModel.Open(parsed.GetValue(model)!);
            if (kind != KvEvalPolicy.Full) options.Validate(eval.Config.NumLayers);
            IReadOnlyList<string> haystack = parsed.GetValue(haystackDir) is { } dir ? ReadHaystack(dir) : FillerText.Words(wordCounts.Max() + 64, parsed.GetValue(seed));
            var trials = PasskeyEvaluation.Plan(eval.Tokenizer, haystack, wordCounts, depthCount, keyCount, parsed.GetValue(seed));
            var fitting = trials.Where(t => t.PromptIds.Length + maxNew <= eval.ContextLimit).ToList();
            var skipped = wordCounts.Where(w => !fitting.Any(t => t.Words == w)).ToArray();
            if (fitting.Count == 0)
                throw new EngineException($"no --lengths fits the context of {eval.ContextLimit} tokens with {maxNew} new tokens; try shorter lengths");

            using var engine = eval.Load(parsed.GetValue(device)!, fitting.Max(t => t.PromptIds.Length) + maxNew, sequences: 1);
            PrefillSchedule prefill = kind == KvEvalPolicy.Full ? PrefillSchedule.Default : LagKvPrefill.Auto(options);
            var outcomes = new List<PasskeyOutcome>();
            void RunAll(Action<int>? report)
            {
                foreach (var trial in fitting)
                {
                    var kvPolicy = KvPolicyFactory.Create(KvEvalPolicyNames.Name(kind), options, eval.Config.NumLayers);
                    try { outcomes.Add(PasskeyEvaluation.Run(engine, eval.Tokenizer, trial, kvPolicy, prefill, maxNew)); }
                    finally { (kvPolicy as IDisposable)?.Dispose(); }
                    report?.Invoke(outcomes.Count);
                }
            }
            var stderr = parsed.InvocationConfiguration.Error;
            if (ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected)
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                console.Progress().Start(context =>
                {
                    var task = context.AddTask($"passkey ({fitting.Count} prompts)", maxValue: fitting.Count);
                    RunAll(done => task.Value = done);
                });
            }
            else RunAll(null);

            string setting = kind == KvEvalPolicy.Full ? "full cache"
                : $"{KvEvalPolicyNames.Name(kind)} {KvEvaluation.RatioLabel(options.Retention)} (S={options.SinkSize}, L={options.LagSize})";
            var output = parsed.InvocationConfiguration.Output;
            if (parsed.GetValue(json)) WriteJson(output, outcomes, skipped, setting, eval.ContextLimit);
            else WriteGrid(output, outcomes, skipped, setting, eval.ContextLimit);
            return 0;
        }));
        return command;
    }

    private static int[] ParseLengths(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new EngineException("--lengths is empty: expected word counts like 512,1024");
        return parts.Select(part => int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int words) && words >= 1
            ? words : throw new EngineException($"--lengths '{part}': expected a positive word count")).Distinct().ToArray();
    }

    private static IReadOnlyList<string> ReadHaystack(string dir)
    {
        if (!Directory.Exists(dir)) throw new EngineException($"--haystack-dir '{dir}': folder not found");
        var words = Directory.GetFiles(dir, "*.txt").Order(StringComparer.Ordinal)
            .SelectMany(file => File.ReadAllText(file).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToArray();
        if (words.Length == 0) throw new EngineException($"--haystack-dir '{dir}': no words in its .txt files");
        return words;
    }

    private static void WriteGrid(TextWriter output, IReadOnlyList<PasskeyOutcome> outcomes, int[] skipped, string setting, int context)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal) console.Profile.Width = 200;
        double[] depths = outcomes.Select(o => o.Trial.Depth).Distinct().Order().ToArray();
        var table = new Table().AddColumn("words").AddColumn("tokens");
        foreach (double depth in depths) table.AddColumn($"d={F(depth, "0.##")}");
        table.AddColumn("EM %").AddColumn("PM %");
        foreach (var row in outcomes.GroupBy(o => o.Trial.Words))
        {
            var cells = new List<string> { $"{row.Key}", $"{(int)row.Average(o => o.Trial.PromptIds.Length)}" };
            foreach (double depth in depths)
            {
                var cell = row.Where(o => o.Trial.Depth == depth).ToArray();
                cells.Add(cell.Length == 0 ? "-" : F(cell.Average(o => o.PartialMatch * 100), "0.0"));
            }
            cells.Add(F(row.Average(o => o.ExactMatch ? 100.0 : 0), "0.0"));
            cells.Add(F(row.Average(o => o.PartialMatch * 100), "0.0"));
            table.AddRow(cells.ToArray());
        }
        console.Write(table);
        console.WriteLine($"{setting}: exact match {F(outcomes.Average(o => o.ExactMatch ? 100.0 : 0), "0.00")}%, partial match {F(outcomes.Average(o => o.PartialMatch * 100), "0.00")}% over {outcomes.Count} prompts (cells: partial match %)");
        foreach (int words in skipped)
            console.WriteLine($"skipped {words} words: the prompt and answer exceed the context of {context} tokens");
    }

    private static void WriteJson(TextWriter output, IReadOnlyList<PasskeyOutcome> outcomes, int[] skipped, string setting, int context)
    {
        var document = new
        {
            setting,
            context,
            exactMatch = outcomes.Average(o => o.ExactMatch ? 1.0 : 0),
            partialMatch = outcomes.Average(o => o.PartialMatch),
            skippedLengths = skipped,
            trials = outcomes.Select(o => new
            {
                words = o.Trial.Words, depth = o.Trial.Depth, promptTokens = o.Trial.PromptIds.Length, key = o.Trial.Key,
                answer = o.Answer, exactMatch = o.ExactMatch, partialMatch = o.PartialMatch,
            }),
        };
        output.WriteLine(JsonSerializer.Serialize(document, CliJson.Indented));
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
