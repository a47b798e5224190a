namespace Engine.Models.Generation;

/// <summary>Why generation ended.</summary>
public enum FinishReason
{
    /// <summary>A stop string appeared in the text.</summary>
    Stop,
    /// <summary>The max-tokens limit was reached.</summary>
    Length,
    /// <summary>The model produced an end-of-sequence token.</summary>
    Eos,
    /// <summary>The sequence reached the model's context limit.</summary>
    Context,
    /// <summary>The caller cancelled.</summary>
    Cancelled,
}

public static class FinishReasons
{
    /// <summary>The lower-case name used in JSON output ("stop", "length", "eos", "context", "cancelled").</summary>
    public static string Name(this FinishReason reason) => reason.ToString().ToLowerInvariant();
}
