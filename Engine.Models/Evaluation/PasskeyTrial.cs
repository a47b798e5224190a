namespace Engine.Models.Evaluation;

/// <summary>One passkey prompt: a haystack length in words, a needle depth (0..1), a key and its tokens.</summary>
public sealed record PasskeyTrial(int Words, double Depth, string Key, int[] PromptIds);

/// <summary>One trial's outcome: the model's answer and its scores.</summary>
public sealed record PasskeyOutcome(PasskeyTrial Trial, string Answer, bool ExactMatch, double PartialMatch);
