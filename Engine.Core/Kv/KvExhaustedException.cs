namespace Engine.Core.Kv;

/// <summary>
/// The KV cache pool has no page left for a sequence. Generation catches it and ends the request with
/// the tokens so far (finish reason kv_exhausted) instead of losing them; the message says what to raise.
/// </summary>
public sealed class KvExhaustedException(string message) : EngineException(message);
