using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine pull`: not built yet.</summary>
internal static class PullCommand
{
    public static Command Create()
    {
        var command = new Command("pull", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine pull is not implemented yet")));
        return command;
    }
}
