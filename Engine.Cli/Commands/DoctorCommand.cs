using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine doctor`: not built yet.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine doctor is not implemented yet")));
        return command;
    }
}
