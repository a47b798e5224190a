namespace Engine.Core;

/// <summary>
/// An error caused by the user's input or environment (a bad checkpoint, a missing model, a malformed
/// flag, an exhausted KV pool). Its message is one line, meant to be printed as is; the CLI prints it
/// on stderr and exits non-zero without a stack trace.
/// </summary>
public class EngineException : Exception
{
    public EngineException(string message) : base(message) { }
    public EngineException(string message, Exception inner) : base(message, inner) { }
}
