using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine run`: not built yet.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var command = new Command("run", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine run is not implemented yet")));
        return command;
    }
}
