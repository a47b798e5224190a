using Engine.Models.Kv;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Models.Evaluation;
using Spectre.Console;
using Engine.Cli.Options;
using Engine.Cli.Formatting;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine eval kv --model M --text FILE [--policy ...] [--ratios 2x,4x,8x] [--lag-size L] [--sink-size S]
/// [--max-tokens N] [--device D] [--json]`: teacher-forces the text under each policy and ratio
/// (all at LagKV's budget) beside the full cache and prints mean KL, top-1 agreement, the perplexity
/// ratio and the achieved compression.
/// </summary>
internal static class EvalKvCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var text = new Option<string>("--text") { Description = "Text file to teacher-force (truncated to the context)", Required = true };
        var policy = new Option<string>("--policy") { Description = "lagkv, streaming, snapkv, h2o, full, a comma-separated list, or all", DefaultValueFactory = _ => "all" };
        var ratios = new Option<string>("--ratios") { Description = "Nominal ratios, comma-separated (Nx or r=F)", DefaultValueFactory = _ => "2x,4x,8x" };
        var lagSize = new Option<int>("--lag-size") { Description = "LagKV partition size L (sets every policy's budget)", DefaultValueFactory = _ => LagKvOptions.DefaultLagSize };
        var sinkSize = new Option<int>("--sink-size") { Description = "LagKV sink size S", DefaultValueFactory = _ => LagKvOptions.DefaultSinkSize };
        var maxTokens = new Option<int?>("--max-tokens") { Description = "Evaluate at most this many tokens of the text" };
        var device = CommonOptions.Device();
        var json = new Option<bool>("--json") { Description = "Print the results as JSON" };

        var command = new Command("kv", "Compare KV-cache policies with the full cache over a text (mean KL, top-1 agreement, perplexity ratio)");
        foreach (var option in new Option[] { model, text, policy, ratios, lagSize, sinkSize, maxTokens, device, json }) command.Options.Add(option);
        command.SetAction(new Func<ParseResult, int>(parsed =>
        {
            var policies = KvEvalPolicyNames.Parse(parsed.GetValue(policy)!);
            double[] retentions = ParseRatios(parsed.GetValue(ratios)!);
            int lag = parsed.GetValue(lagSize), sink = parsed.GetValue(sinkSize);
            int? limit = parsed.GetValue(maxTokens);
            if (limit is < 2) throw new EngineException($"--max-tokens must be at least 2, got {limit}");
            string path = parsed.GetValue(text)!;
            if (!File.Exists(path)) throw new EngineException($"--text '{path}': file not found");

            var eval = EvalModel.Open(parsed.GetValue(model)!);
            int[] tokens = eval.Tokenizer.Encode(File.ReadAllText(path));
            int keep = Math.Min(eval.ContextLimit, limit ?? int.MaxValue);
            if (tokens.Length > keep) tokens = tokens[..keep];
            if (tokens.Length < 2) throw new EngineException($"--text '{path}' gives {tokens.Length} token(s); eval kv needs at least 2");

            var runs = new List<(KvEvalPolicy Policy, LagKvOptions Options)>();
            foreach (var p in policies)
                foreach (double r in p == KvEvalPolicy.Full ? retentions.Take(1) : retentions)
                    runs.Add((p, new LagKvOptions { Retention = r, LagSize = lag, SinkSize = sink }));
            foreach (var run in runs) run.Options.Validate(eval.Config.NumLayers);

            using var engine = eval.Load(parsed.GetValue(device)!, tokens.Length, sequences: 2);
            var results = new List<KvEvalResult>();
            var stderr = parsed.InvocationConfiguration.Error;
            void RunAll(Action<int, int>? report)
            {
                for (int i = 0; i < runs.Count; i++)
                    results.Add(KvEvaluation.Run(engine.Model, engine.Cache, tokens, runs[i].Policy, runs[i].Options,
                        done => report?.Invoke(i, done)));
            }
            if (ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected)
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                console.Progress().Start(context =>
                {
                    var task = context.AddTask($"eval kv ({runs.Count} runs x {tokens.Length} tokens)", maxValue: (double)runs.Count * tokens.Length);
                    RunAll((run, done) => task.Value = (double)run * tokens.Length + done);
                });
            }
            else RunAll(null);

            var output = parsed.InvocationConfiguration.Output;
            if (parsed.GetValue(json)) WriteJson(output, results, lag, sink, engine.Backend.Name, eval.Folder);
            else WriteTable(output, results, lag, sink);
            return 0;
        }));
        return command;
    }

    private static double[] ParseRatios(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new EngineException("--ratios is empty: expected e.g. 2x,4x,8x");
        return parts.Select(part => LagKvText.ParseRetention(part, "--ratios")).Distinct().ToArray();
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<KvEvalResult> results, int lag, int sink)
    {
        bool terminal = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected;
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (!terminal) console.Profile.Width = 160;
        var table = new Table().AddColumns("policy", "ratio", "tokens", "KV slots", "achieved", "mean KL", "top-1 agree", "ppl full", "ppl ratio");
        foreach (var r in results)
            table.AddRow(r.Policy, Markup.Escape(r.Ratio), $"{r.Tokens}", F(r.FinalKvSlots, "0.#"), F(r.AchievedRatio, "0.00") + "x",
                F(r.MeanKl, "0.00000"), F(r.Top1Agreement, "0.0000"), F(r.PerplexityFull, "0.000"), F(r.PerplexityCompressed / r.PerplexityFull, "0.0000"));
        console.Write(table);
        console.WriteLine($"budgets: LagKV's cache size with S={sink}, L={lag} at each ratio; KL(full || compressed) in nats per position");
    }

    private static void WriteJson(TextWriter output, IReadOnlyList<KvEvalResult> results, int lag, int sink, string backend, string model)
    {
        var document = new
        {
            model,
            backend,
            lagSize = lag,
            sinkSize = sink,
            results = results.Select(r => new
            {
                policy = r.Policy, ratio = r.Ratio, tokens = r.Tokens, meanKl = r.MeanKl, top1Agreement = r.Top1Agreement,
                perplexityFull = r.PerplexityFull, perplexityCompressed = r.PerplexityCompressed, perplexityRatio = r.PerplexityRatio,
                finalKvSlots = r.FinalKvSlots, achievedRatio = r.AchievedRatio,
            }),
        };
        output.WriteLine(JsonSerializer.Serialize(document, CliJson.Indented));
    }

    private static string F(double value, string format) => value.ToString(format, CultureInfo.InvariantCulture);
}
