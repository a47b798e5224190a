namespace Engine.Core.Sampling;

/// <summary>One candidate token and its log-probability.</summary>
public readonly record struct TokenLogprob(int Id, double Logprob);
