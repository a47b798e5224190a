using System.CommandLine;
using Engine.Kernels;

namespace Engine.Cli.Options;

/// <summary>
/// The flags several commands share, declared once so that each has the same name, short alias and
/// wording everywhere (`-m` works wherever `--model` does).
/// </summary>
internal static class CommonOptions
{
    public const string ModelDescription = "Model: a registry name, an org/name repo id (org/name:Q4_K_M for one of its GGUF files), a local folder, a weights file in it or a .gguf file";

    public static Option<string> Model(string description = ModelDescription) =>
        new("--model", "-m") { Description = description, Required = true };

    public static Option<string> Device() =>
        new("--device", "-d") { Description = $"Device: {BackendFactory.Choices}", DefaultValueFactory = _ => "auto" };

    public static Option<int> Threads() =>
        new("--threads", "-t") { Description = "CPU backend worker threads (0: all cores)" };

    /// <summary>Checks --threads: negative is an error; above the core count runs, with a one-line warning (oversubscribed workers are much slower).</summary>
    public static int ReadThreads(ParseResult parsed, Option<int> threads)
    {
        int n = parsed.GetValue(threads);
        if (n < 0) throw new Core.EngineException($"--threads must be 0 (all cores) or positive, got {n}");
        if (n > Environment.ProcessorCount)
            parsed.InvocationConfiguration.Error.WriteLine(
                $"warning: --threads {n} exceeds the {Environment.ProcessorCount} cores of this machine; oversubscribed workers run much slower (0 uses all cores)");
        return n;
    }
}
