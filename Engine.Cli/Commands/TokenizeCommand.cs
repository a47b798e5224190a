using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine tokenize`: not built yet.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var command = new Command("tokenize", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine tokenize is not implemented yet")));
        return command;
    }
}
