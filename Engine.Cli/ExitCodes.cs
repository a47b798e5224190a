namespace Engine.Cli;

/// <summary>The `engine` exit codes (README "Exit codes"): a script can tell a bad command line from a cut-short result.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>An error before or instead of a result (the one-line `error: ...` on stderr).</summary>
    public const int Error = 1;
    /// <summary>The command line itself is wrong (unknown command or flag, a value that does not convert).</summary>
    public const int Usage = 2;
    /// <summary>The KV cache pool ran out: the tokens so far are printed, finish reason kv_exhausted.</summary>
    public const int KvExhausted = 3;
    /// <summary>Generation stopped on a fault (non-finite logits): the tokens so far are printed, finish reason error.</summary>
    public const int GenerationError = 4;
    /// <summary>Interrupted (Ctrl-C / SIGINT), as shells report 128 + SIGINT: partial output is still printed.</summary>
    public const int Interrupted = 130;
}
