using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine eval passkey`: not built yet.</summary>
internal static class EvalPasskeyCommand
{
    public static Command Create()
    {
        var command = new Command("passkey", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine eval passkey is not implemented yet")));
        return command;
    }
}
