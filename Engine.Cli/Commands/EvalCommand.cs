using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine eval`: not built yet.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine eval is not implemented yet")));
        return command;
    }
}
