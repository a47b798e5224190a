using System.CommandLine;
using Engine.Cli.Formatting;
using Engine.Cli.Options;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;
using Engine.Core.Hub;

namespace Engine.Cli.Commands;

/// <summary>
/// `engine quantize --model M --type T [--out FILE]`: writes the model as a GGUF file of type T that llama.cpp
/// and the engine load, its matrices quantized as `--quantize T` quantizes them at load.
/// </summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var type = new Option<string>("--type") { Description = $"Quantization type of the matrices: {QuantizedCheckpoint.Choices}", Required = true };
        var output = new Option<string?>("--out", "-o") { Description = "GGUF file to write (default: <model name>-<TYPE>.gguf in the current folder)" };
        var command = new Command("quantize", "Write a model as a quantized GGUF file (llama.cpp loads it too)");
        foreach (var option in new Option[] { model, type, output }) command.Options.Add(option);
        command.SetAction(new Func<ParseResult, int>(parsed =>
        {
            var quantType = QuantizedCheckpoint.ParseType(parsed.GetValue(type)!);
            var resolved = ModelLocator.Resolve(parsed.GetValue(model)!);
            string name = ModelName(resolved);
            string path = Path.GetFullPath(parsed.GetValue(output) ?? $"{name}-{DTypes.SafetensorsName(quantType)}{GgufFile.Extension}");
            if (!GgufFile.IsGgufPath(path)) throw new EngineException($"--out '{path}': the file name must end in {GgufFile.Extension}");
            if (GgufModelPath.Find(resolved.Folder) is string source && Path.GetFullPath(source) == path)
                throw new EngineException($"--out '{path}' is the model being quantized; choose another file");
            if (Path.GetDirectoryName(path) is { } folder && !Directory.Exists(folder)) throw new EngineException($"--out '{path}': folder {folder} does not exist");

            var summary = GgufModelWriter.Write(resolved.Folder, quantType, path, name);
            var stdout = parsed.InvocationConfiguration.Output;
            stdout.WriteLine($"wrote {summary.Path} ({ByteSize.Format(summary.FileBytes)}): " +
                             string.Join(", ", summary.Types.Select(t => $"{GgmlTypes.Name(t.Type)} {t.Count} ({ByteSize.Format(t.Bytes)})")));
            return 0;
        }));
        return command;
    }

    /// <summary>The repo's name for a hub model, else the folder's or file's name.</summary>
    private static string ModelName(ResolvedModel model) =>
        model.RepoId is { } repo ? repo[(repo.IndexOf('/') + 1)..]
        : Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(model.Folder));
}
