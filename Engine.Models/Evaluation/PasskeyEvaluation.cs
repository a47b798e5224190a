using Engine.Core.Text;
using Engine.Models.Generation;
using Engine.Models.Kv;
using Engine.Core.Sampling;

namespace Engine.Models.Evaluation;

/// <summary>
/// `engine eval passkey`: builds the length x depth x key grid of prompts, generates greedily under a
/// KV-cache policy (a fresh one per prompt) and scores each answer (docs/lagkv.md, the paper's protocol).
/// </summary>
public static class PasskeyEvaluation
{
    public const int DefaultNewTokens = 256;

    /// <summary>
    /// The prompts: for each length, <paramref name="depths"/> depths evenly from 0 to 1 (0.5 when one),
    /// <paramref name="keys"/> random keys each (seeded: the same grid every run).
    /// </summary>
    public static IReadOnlyList<PasskeyTrial> Plan(TextTokenizer tokenizer, IReadOnlyList<string> haystack,
        IReadOnlyList<int> lengths, int depths, int keys, int seed = 42)
    {
        var random = new Random(seed);
        var trials = new List<PasskeyTrial>();
        foreach (int words in lengths)
            for (int d = 0; d < depths; d++)
            {
                double depth = depths == 1 ? 0.5 : (double)d / (depths - 1);
                for (int k = 0; k < keys; k++)
                {
                    string key = PasskeyPrompt.RandomKey(random);
                    trials.Add(new PasskeyTrial(words, depth, key, tokenizer.Encode(PasskeyPrompt.Build(haystack, words, depth, key))));
                }
            }
        return trials;
    }

    /// <summary>Runs one trial: greedy, <paramref name="newTokens"/> tokens at most, no chat template.</summary>
    public static PasskeyOutcome Run(InferenceEngine engine, TextTokenizer tokenizer, PasskeyTrial trial, IKvCachePolicy? policy,
        PrefillSchedule prefill, int newTokens = DefaultNewTokens)
    {
        var options = engine.DefaultOptions() with
        {
            MaxTokens = newTokens, Sampling = SamplingOptions.Greedy, KvPolicy = policy, Prefill = prefill, StopStrings = [],
        };
        var completion = engine.Generate(trial.PromptIds, options);
        foreach (var _ in completion.Run()) { }
        string answer = tokenizer.Decode(completion.TokenIds.ToArray(), skipSpecialTokens: true);
        return new PasskeyOutcome(trial, answer, PasskeyScore.ExactMatch(answer, trial.Key), PasskeyScore.PartialMatch(answer, trial.Key));
    }
}
