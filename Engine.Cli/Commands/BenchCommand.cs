using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine bench`: not built yet.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine bench is not implemented yet")));
        return command;
    }
}
