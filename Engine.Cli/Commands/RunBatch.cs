using System.Diagnostics;
using System.Globalization;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Core.Text.Templates;
using Engine.Models;
using Engine.Models.Generation;
using Engine.Models.Kv;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine run --batch FILE.jsonl`: offline batch inference (vLLM's LLM.generate). Every line is a
/// request; the command line's flags are its defaults. All lines are checked before anything runs (a
/// bad one is a one-line error naming it), then all run at once through the engine's scheduler, and
/// the results come out in input order: with --json one `run --json` object per line, else each text
/// on stdout and each summary on stderr.
/// </summary>
internal static class RunBatch
{
    /// <summary>The command line's defaults for every line.</summary>
    public sealed record Defaults(GenerationOptions Options, KvPolicySpec Kv, string? PrefillChunk, string? System, ChatRenderOptions Render);

    public static int Execute(InferenceEngine engine, IReadOnlyList<BatchRequest> requests, Defaults defaults, bool json,
        TextWriter stdout, TextWriter stderr, CancellationToken cancellation)
    {
        var prepared = requests.Select(r => Prepare(engine, r, defaults)).ToArray();
        var clock = Stopwatch.StartNew();
        Task.WhenAll(prepared.Select(p => Task.Run(() => p.Completion.RunToEndAsync(cancellation)))).GetAwaiter().GetResult();
        double seconds = clock.Elapsed.TotalSeconds;

        for (int i = 0; i < prepared.Length; i++)
        {
            var (completion, policy) = prepared[i];
            if (json) stdout.WriteLine(RunCommand.ToJson(engine, completion, policy));
            else
            {
                stdout.WriteLine(completion.Text);
                stderr.WriteLine($"line {requests[i].Line}: {RunCommand.Summary(completion)}");
            }
        }
        int generated = prepared.Sum(p => p.Completion.TokenIds.Count);
        if (!json)
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{prepared.Length} requests, {generated} tokens generated in {seconds:0.00} s ({generated / Math.Max(seconds, 1e-9):0.0} tok/s); peak {engine.Steps.PeakSequencesPerStep} sequences per step]"));
        return cancellation.IsCancellationRequested ? 130 : 0;
    }

    /// <summary>A line's completion (not yet running) and KV policy; any error names the line.</summary>
    private static (Completion Completion, KvPolicyChoice Policy) Prepare(InferenceEngine engine, BatchRequest r, Defaults defaults)
    {
        try
        {
            var spec = defaults.Kv.With(r.Kv);
            var lagKv = spec.LagKv();
            var choice = new KvPolicyChoice(spec.Name, lagKv, spec.Create(engine.Config.NumLayers));
            string? prefill = r.PrefillChunk ?? defaults.PrefillChunk;
            var d = defaults.Options;
            var s = d.Sampling;
            var options = d with
            {
                MaxTokens = r.MaxTokens ?? d.MaxTokens,
                Sampling = s with
                {
                    Temperature = r.Temperature ?? s.Temperature,
                    TopK = r.TopK ?? s.TopK,
                    TopP = r.TopP ?? s.TopP,
                    MinP = r.MinP ?? s.MinP,
                    RepetitionPenalty = r.RepetitionPenalty ?? s.RepetitionPenalty,
                    FrequencyPenalty = r.FrequencyPenalty ?? s.FrequencyPenalty,
                    PresencePenalty = r.PresencePenalty ?? s.PresencePenalty,
                    Seed = r.Seed ?? s.Seed,
                },
                StopStrings = r.Stop ?? d.StopStrings,
                Logprobs = r.Logprobs ?? d.Logprobs,
                IgnoreEos = r.IgnoreEos ?? d.IgnoreEos,
                Prefill = prefill is null ? PrefillSchedule.Default : LagKvPrefill.Parse(prefill, lagKv, "prefill_chunk"),
                KvPolicy = choice.Policy,
            };
            options.Validate();
            Completion completion = r.PromptIds is not null ? engine.Generate(r.PromptIds, options)
                : r.Messages is not null ? engine.Chat(r.Messages, options, defaults.Render)
                : defaults.System is not null ? engine.Chat([new ChatMessage("system", defaults.System), new ChatMessage("user", r.Prompt!)], options, defaults.Render)
                : engine.Generate(r.Prompt!, options);
            return (completion, choice);
        }
        catch (EngineException e)
        {
            throw new EngineException($"--batch line {r.Line}: {e.Message}");
        }
    }
}
