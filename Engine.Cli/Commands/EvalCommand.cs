using System.CommandLine;

namespace Engine.Cli.Commands;

/// <summary>`engine eval`: KV-cache compression quality (`eval kv`) and passkey retrieval (`eval passkey`).</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "Measure what KV-cache compression costs: next-token fidelity and passkey retrieval");
        command.Subcommands.Add(EvalKvCommand.Create());
        command.Subcommands.Add(EvalPasskeyCommand.Create());
        return command;
    }
}
