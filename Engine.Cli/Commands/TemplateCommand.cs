using System.CommandLine;
using Engine.Core;

namespace Engine.Cli.Commands;

/// <summary>`engine template`: not built yet.</summary>
internal static class TemplateCommand
{
    public static Command Create()
    {
        var command = new Command("template", "(not yet implemented)");
        command.SetAction(new Func<ParseResult, int>(_ => throw new EngineException("engine template is not implemented yet")));
        return command;
    }
}
