using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Engine.Cli.Formatting;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Core.Sampling;
using Engine.Core.Text.Templates;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using Engine.Models;
using Engine.Models.Benchmarks;
using Engine.Models.Generation;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine run`: loads a model and generates from a text prompt, token ids or an interactive chat.
/// Text streams to stdout as each token's text completes; a one-line summary goes to stderr; --json
/// prints one object instead. Ctrl-C stops generation cleanly (finish reason "cancelled").
/// </summary>
internal static class RunCommand
{
    private static readonly Option<string> Model = CommonOptions.Model();
    private static readonly Option<string?> Prompt = new("--prompt") { Description = "Prompt text (tokenized with the model's tokenizer, BOS added as it does)" };
    private static readonly Option<string?> Batch = new("--batch") { Description = "Offline batch: a JSONL file, one request per line ({\"prompt\"|\"prompt_ids\"|\"messages\": ..., options}); all run at once; flags are every line's defaults" };
    private static readonly Option<string?> PromptIds = new("--prompt-ids") { Description = "Prompt as comma-separated token ids, e.g. 1,2,3" };
    private static readonly Option<bool> Chat = new("--chat") { Description = "Interactive chat through the model's chat template: one message per stdin line; an empty line or EOF ends" };
    private static readonly Option<string?> System = new("--system") { Description = "System message (chat; with --prompt, the prompt becomes one chat turn)" };
    private static readonly Option<int?> MaxTokens = new("--max-tokens") { Description = "Most tokens to generate (default: generation_config.json's max_new_tokens, else 256)" };
    private static readonly Option<double?> Temperature = new("--temperature") { Description = "Sampling temperature; 0 is greedy (default: generation_config.json)" };
    private static readonly Option<int?> TopK = new("--top-k") { Description = "Keep the K most likely tokens (0: off)" };
    private static readonly Option<double?> TopP = new("--top-p") { Description = "Keep the smallest set of tokens whose probability reaches P (1: off)" };
    private static readonly Option<double?> MinP = new("--min-p") { Description = "Drop tokens below P times the top probability (0: off)" };
    private static readonly Option<double?> RepetitionPenalty = new("--repetition-penalty") { Description = "Penalise tokens already present (Hugging Face semantics; 1: off)" };
    private static readonly Option<int?> Seed = new("--seed") { Description = "Random seed for sampling" };
    private static readonly Option<string[]> Stop = new("--stop") { Description = "Stop when the text contains this string (repeatable)", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<bool> IgnoreEos = new("--ignore-eos") { Description = "Do not stop at end-of-sequence tokens" };
    private static readonly Option<string?> PrefillChunk = new("--prefill-chunk") { Description = $"Prompt tokens per prefill step (default {PrefillSchedule.DefaultChunk}; 0: the whole prompt at once; auto: with LagKV S + 2L, then L)" };
    private static readonly KvPolicyOptions KvPolicy = new();
    private static readonly TemplateVariableOptions TemplateInputs = new();
    private static readonly EngineLoadOptions EngineLoad = new();
    private static readonly Option<bool> Json = new("--json") { Description = "Print one JSON object with ids, text, finish reason, timings and KV statistics" };
    private static readonly Option<int> Logprobs = new("--logprobs") { Description = $"Report the top K log-probabilities per token (K <= {TopLogprobs.MaxK}; with --json)" };

    public static Command Create()
    {
        var command = new Command("run", "Generate text from a prompt, token ids or an interactive chat");
        foreach (Option option in new Option[]
                 {
                     Model, Prompt, PromptIds, Batch, Chat, System, MaxTokens, Temperature, TopK, TopP, MinP, RepetitionPenalty, Seed, Stop,
                     IgnoreEos, PrefillChunk, Json, Logprobs,
                 })
            command.Options.Add(option);
        EngineLoad.AddTo(command);
        KvPolicy.AddTo(command);
        TemplateInputs.AddTo(command);
        command.SetAction(new Func<ParseResult, int>(Execute));
        return command;
    }

    private static int Execute(ParseResult parsed)
    {
        var stdout = parsed.InvocationConfiguration.Output;
        var stderr = parsed.InvocationConfiguration.Error;
        var engineOptions = EngineLoad.Read(parsed);
        int sources = (parsed.GetValue(Prompt) is not null ? 1 : 0) + (parsed.GetValue(PromptIds) is not null ? 1 : 0) + (parsed.GetValue(Chat) ? 1 : 0)
            + (parsed.GetValue(Batch) is not null ? 1 : 0);
        if (sources != 1) throw new EngineException("give exactly one of --prompt, --prompt-ids or --chat, or --batch FILE");
        int[]? promptIds = parsed.GetValue(PromptIds) is { } idsText ? ParseIds(idsText) : null;
        int logprobs = parsed.GetValue(Logprobs);
        if (logprobs < 0 || logprobs > TopLogprobs.MaxK) throw new EngineException($"--logprobs must be between 0 and {TopLogprobs.MaxK}, got {logprobs}");
        if (parsed.GetValue(Chat) && parsed.GetValue(Json)) throw new EngineException("--json prints one request's result; it cannot be combined with --chat");
        var batch = parsed.GetValue(Batch) is { } batchFile ? BatchRequest.ReadFile(batchFile) : null;
        string model = parsed.GetValue(Model)!;
        var kvSettings = KvPolicy.Read(parsed, KvPolicyOptions.RecommendationFor(model));
        var prefill = KvPolicyOptions.ParsePrefillChunk(parsed.GetValue(PrefillChunk), kvSettings.LagKv);

        using var engine = InferenceEngine.Load(model, engineOptions);
        if (engine.QuantizationSummary is { } quantized) stderr.WriteLine($"engine: {quantized}");
        var policy = kvSettings.Create(engine.Config.NumLayers);
        if (kvSettings.CompressionWarning(engine.ContextLimit, "the model's context") is { } warning) stderr.WriteLine(warning);
        using var disposablePolicy = policy.Policy as IDisposable;
        var options = ReadGenerationOptions(parsed, engine, prefill, logprobs) with { KvPolicy = policy.Policy };
        options.Validate();

        using var interrupt = new Interrupt(CliApp.Cancellation);
        var render = TemplateInputs.Read(parsed);
        if (batch is not null)
            return RunBatch.Execute(engine, batch, new RunBatch.Defaults(options, KvPolicy.Spec(parsed), parsed.GetValue(PrefillChunk), parsed.GetValue(System), render),
                parsed.GetValue(Json), stdout, stderr, interrupt.Token);
        if (parsed.GetValue(Chat)) return Commands.RunChat.OnConsole(engine, options, render, parsed.GetValue(System), stdout, stderr);

        string? system = parsed.GetValue(System);
        Completion completion = promptIds is not null ? engine.Generate(promptIds, options)
            : system is not null ? engine.Chat([new ChatMessage("system", system), new ChatMessage("user", parsed.GetValue(Prompt)!)], options, render)
            : engine.Generate(parsed.GetValue(Prompt)!, options);
        bool json = parsed.GetValue(Json);
        var counters = new DecodeCounterProbe(engine.Backend);
        foreach (var token in completion.Run(interrupt.Token))
        {
            counters.OnToken();
            if (json) continue;
            stdout.Write(token.Text);
            stdout.Flush();
        }
        if (json) stdout.WriteLine(ToJson(engine, completion, policy, counters.Result));
        else
        {
            stdout.WriteLine();
            stderr.WriteLine(Summary(completion));
        }
        return Outcome(completion, stderr);
    }

    /// <summary>
    /// The exit code of a finished request (README "Exit codes"); a request cut short also gets its
    /// one-line reason on stderr. Its output was printed before, whatever the reason.
    /// </summary>
    private static int Outcome(Completion completion, TextWriter stderr)
    {
        var reason = completion.FinishReason;
        if (reason is FinishReason.KvExhausted or FinishReason.Error)
            stderr.WriteLine($"error: {completion.FinishMessage}");
        return reason switch
        {
            FinishReason.Cancelled => ExitCodes.Interrupted,
            FinishReason.KvExhausted => ExitCodes.KvExhausted,
            FinishReason.Error => ExitCodes.GenerationError,
            _ => ExitCodes.Ok,
        };
    }

    private static GenerationOptions ReadGenerationOptions(ParseResult parsed, InferenceEngine engine, PrefillSchedule prefill, int logprobs)
    {
        var defaults = engine.DefaultOptions();
        var s = defaults.Sampling;
        var sampling = s with
        {
            Temperature = parsed.GetValue(Temperature) ?? s.Temperature,
            TopK = parsed.GetValue(TopK) ?? s.TopK,
            TopP = parsed.GetValue(TopP) ?? s.TopP,
            MinP = parsed.GetValue(MinP) ?? s.MinP,
            RepetitionPenalty = parsed.GetValue(RepetitionPenalty) ?? s.RepetitionPenalty,
            Seed = parsed.GetValue(Seed),
        };
        return defaults with
        {
            MaxTokens = parsed.GetValue(MaxTokens) ?? defaults.MaxTokens,
            Sampling = sampling,
            StopStrings = parsed.GetValue(Stop) ?? [],
            IgnoreEos = parsed.GetValue(IgnoreEos),
            Prefill = prefill,
            Logprobs = logprobs,
        };
    }

    private static int[] ParseIds(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                throw new EngineException($"--prompt-ids: '{parts[i]}' is not a token id; expected comma-separated integers such as 1,2,3");
        return ids;
    }

    internal static string Summary(Completion c)
    {
        var s = c.Stats;
        string prefilled = s.PrefillTokens < s.PromptTokens ? $"{s.PrefillTokens} of {s.PromptTokens} tokens in " : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"[{s.PromptTokens} prompt tokens, {s.GeneratedTokens} generated, finish {c.FinishReason?.Name()}; prefill {prefilled}{s.PrefillMs:0.0} ms ({s.PrefillTokensPerSecond:0.0} tok/s), decode {s.DecodeTokensPerSecond:0.0} tok/s; KV {s.KvPagesUsed} pages]");
    }

    internal static string ToJson(InferenceEngine engine, Completion c, KvPolicyChoice policy, DecodeCounters? counters = null)
    {
        var s = c.Stats;
        var document = new Dictionary<string, object?>
        {
            ["model"] = engine.Name,
            ["device"] = engine.Backend.Name,
            ["prompt_tokens"] = s.PromptTokens,
            ["prefill_tokens"] = s.PrefillTokens,
            ["tokens"] = c.TokenIds,
            ["text"] = c.Text,
            ["finish_reason"] = c.FinishReason?.Name(),
            ["timings"] = new Dictionary<string, double>
            {
                ["load_ms"] = s.LoadMs,
                ["prefill_ms"] = s.PrefillMs,
                ["decode_ms"] = s.DecodeMs,
                ["ttft_ms"] = s.TimeToFirstTokenMs,
                ["prefill_tokens_per_s"] = s.PrefillTokensPerSecond,
                ["decode_tokens_per_s"] = s.DecodeTokensPerSecond,
            },
            ["kv"] = new Dictionary<string, object>
            {
                ["page_size"] = s.PageSize,
                ["pages_used"] = s.KvPagesUsed,
                ["bytes"] = s.KvBytes,
                ["layers"] = s.Layers.Select(l => new Dictionary<string, int> { ["logical_len"] = l.LogicalLength, ["physical_len"] = l.PhysicalLength }).ToArray(),
            },
        };
        if (policy.Name != "full")
            document["kv_policy"] = KvPolicyJson.Build(policy, s, engine.Cache.BytesPerPage / engine.Cache.PageSize);
        if (engine.Backend is IlgpuBackend ilgpu)
        {
            document["kernels"] = ilgpu.KernelsInUse;
            var fallbacks = ilgpu.KernelChecks.Where(k => !k.Passed).Select(k => new Dictionary<string, string> { ["kernel"] = k.Kernel, ["portable"] = k.PortableTwin, ["detail"] = k.Detail }).ToArray();
            if (fallbacks.Length > 0) document["kernel_fallbacks"] = fallbacks;
        }
        if (counters is not null)
        {
            document["kernel_launches_per_token"] = counters.KernelLaunchesPerToken;
            document["host_syncs_per_token"] = counters.HostSyncsPerToken;
            document["host_device_bytes_per_token"] = counters.HostDeviceBytesPerToken;
        }
        if (c.Logprobs.Count > 0)
            document["logprobs"] = c.Logprobs.Select(step => step.Select(t => new Dictionary<string, object> { ["id"] = t.Id, ["logprob"] = t.Logprob }).ToArray()).ToArray();
        return JsonSerializer.Serialize(document, CliJson.Compact);
    }
}
