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
    /// <summary>The KV cache pool ran out of pages for this sequence; the tokens generated so far are kept.</summary>
    KvExhausted,
    /// <summary>Generation failed (e.g. the logits turned non-finite); the tokens generated before the fault are kept.</summary>
    Error,
}

public static class FinishReasons
{
    /// <summary>The snake_case name used in JSON output ("stop", "length", "eos", "context", "cancelled", "kv_exhausted", "error").</summary>
    public static string Name(this FinishReason reason) => reason switch
    {
        FinishReason.KvExhausted => "kv_exhausted",
        _ => reason.ToString().ToLowerInvariant(),
    };
}
