using System.CommandLine;

namespace Engine.Cli.Commands;

/// <summary>`engine eval`: KV-cache compression quality (`eval kv`), passkey retrieval (`eval passkey`) and quantization quality (`eval quant`).</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "Measure what KV-cache compression and quantization cost: next-token fidelity and passkey retrieval");
        command.Subcommands.Add(EvalKvCommand.Create());
        command.Subcommands.Add(EvalPasskeyCommand.Create());
        command.Subcommands.Add(EvalQuantCommand.Create());
        return command;
    }
}
