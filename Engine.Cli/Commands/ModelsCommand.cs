using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine models`: not built yet.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var command = new Command("models", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine models is not implemented yet")));
        return command;
    }
}
