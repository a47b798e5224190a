using Engine.Core;
using Engine.Models.Benchmarks;

namespace Engine.Cli.Options;

/// <summary>`engine bench --context N`: decode measured at a cache length of N, i.e. a prompt of N tokens.</summary>
public static class BenchContext
{
    /// <param name="context">--context, or null.</param>
    /// <param name="promptTokensGiven">Whether --prompt-tokens was on the command line (it and --context both set the prompt).</param>
    public static BenchSettings Settings(int? context, bool promptTokensGiven, int promptTokens, int genTokens, int repetitions)
    {
        if (context is not { } n) return new BenchSettings(promptTokens, genTokens, repetitions);
        if (n < 1) throw new EngineException($"--context must be >= 1, got {n}");
        if (promptTokensGiven)
            throw new EngineException($"--context {n} sets the prompt length (decode is measured at a cache of {n} tokens); drop --prompt-tokens");
        return new BenchSettings(n, genTokens, repetitions);
    }

    /// <summary>
    /// Fits the requests (prompt plus generated tokens) to the model's context: a prompt length given on
    /// the command line that does not fit is an error naming the limit; the default one shrinks to fit.
    /// </summary>
    /// <param name="promptGiven">Whether --prompt-tokens or --context set the prompt length.</param>
    /// <param name="contextGiven">Whether the prompt length came from --context (for the message).</param>
    public static BenchSettings Fit(BenchSettings settings, bool promptGiven, bool contextGiven, int modelContext, string model)
    {
        int total = settings.PromptTokens + settings.GenTokens;
        if (total <= modelContext) return settings;
        int longest = modelContext - settings.GenTokens;
        if (!promptGiven && longest >= 1) return settings with { PromptTokens = longest };
        string prompt = contextGiven ? $"--context {settings.PromptTokens}" : $"--prompt-tokens {settings.PromptTokens}";
        throw new EngineException(
            $"{prompt} + --gen-tokens {settings.GenTokens} = {total} tokens exceed the context of {model}, {modelContext} tokens" +
            (longest >= 1 ? $"; the longest prompt with {settings.GenTokens} generated tokens is {longest}" : "; lower --gen-tokens"));
    }
}
