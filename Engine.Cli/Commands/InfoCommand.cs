using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine info`: not built yet.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine info is not implemented yet")));
        return command;
    }
}
