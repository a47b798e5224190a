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
}
