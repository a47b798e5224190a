using System.Text.Json;
using Engine.Core.Config;

namespace Engine.Core.Hub;

/// <summary>
/// The known models, read from <c>models.json</c>: short names mapped to hub repos, sizes, LagKV settings
/// and shapes. The repository's models.json is built into this assembly, so the library needs no file
/// beside the app; <c>ENGINE_MODELS</c> names a models.json of one's own instead.
/// </summary>
public sealed class ModelRegistry
{
    public const string FileName = "models.json";
    /// <summary>The environment variable naming a models.json that replaces the built-in registry.</summary>
    public const string EnvironmentVariable = "ENGINE_MODELS";
    private const string ResourceName = "Engine.Core.models.json";

    private static readonly Lazy<ModelRegistry> DefaultRegistry = new(() => LoadDefault(Environment.GetEnvironmentVariable(EnvironmentVariable)));

    public ModelRegistry(IReadOnlyList<RegistryEntry> entries) => Entries = entries;

    public IReadOnlyList<RegistryEntry> Entries { get; }

    /// <summary>The registry of <c>$ENGINE_MODELS</c> when it is set, else the built-in one.</summary>
    public static ModelRegistry Default => DefaultRegistry.Value;

    /// <summary>The entry of a short name (case-insensitive), or null.</summary>
    public RegistryEntry? Find(string name) =>
        Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The entry whose repo is <paramref name="repoId"/> (case-insensitive, as the hub treats repo ids), or null.</summary>
    public RegistryEntry? FindByRepo(string repoId) =>
        Entries.FirstOrDefault(e => string.Equals(e.Repo, repoId, StringComparison.OrdinalIgnoreCase));

    /// <param name="overridePath">A models.json to use instead of the built-in registry (the value of ENGINE_MODELS), or null/empty.</param>
    public static ModelRegistry LoadDefault(string? overridePath)
    {
        if (string.IsNullOrEmpty(overridePath)) return BuiltIn();
        if (!File.Exists(overridePath)) throw new EngineException($"{EnvironmentVariable}={overridePath}: no such file (unset it to use the built-in registry)");
        return Load(overridePath);
    }

    /// <summary>The registry built into this assembly (the repository's models.json at build time).</summary>
    public static ModelRegistry BuiltIn()
    {
        using var stream = typeof(ModelRegistry).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the {ResourceName} resource is missing from {typeof(ModelRegistry).Assembly.GetName().Name}");
        using var document = JsonDocument.Parse(stream);
        return Parse(document.RootElement, $"{FileName} (built in)");
    }

    public static ModelRegistry Load(string path)
    {
        if (!File.Exists(path)) throw new EngineException($"{path}: no such file");
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path));
            return Parse(document.RootElement, path);
        }
        catch (JsonException e)
        {
            throw new EngineException($"{path}: not valid JSON ({e.Message})");
        }
    }

    private static ModelRegistry Parse(JsonElement root, string path)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("models", out var models) || models.ValueKind != JsonValueKind.Array)
            throw new EngineException($"{path}: expected an object with a 'models' array");
        var entries = new List<RegistryEntry>();
        foreach (var model in models.EnumerateArray())
        {
            var entry = ParseEntry(model, path);
            if (entries.Any(e => string.Equals(e.Name, entry.Name, StringComparison.OrdinalIgnoreCase)))
                throw new EngineException($"{path}: model '{entry.Name}' is listed twice");
            entries.Add(entry);
        }
        return new ModelRegistry(entries);
    }

    private static RegistryEntry ParseEntry(JsonElement model, string path)
    {
        if (model.ValueKind != JsonValueKind.Object) throw new EngineException($"{path}: every entry of 'models' must be an object");
        string name = String(model, "name", path);
        string where = $"{path}: model '{name}'";
        string repo = String(model, "repo", where);
        if (!ModelReference.IsRepoId(repo)) throw new EngineException($"{where}: repo '{repo}' is not an org/name repo id");
        var architecture = String(model, "architecture", where) switch
        {
            "llama" => ModelArchitecture.Llama,
            "qwen2" => ModelArchitecture.Qwen2,
            var other => throw new EngineException($"{where}: unknown architecture '{other}' (expected llama or qwen2)"),
        };
        if (!model.TryGetProperty("lagkv", out var lagKv) || lagKv.ValueKind != JsonValueKind.Object)
            throw new EngineException($"{where}: missing 'lagkv' object");
        var recommendation = new LagKvRecommendation(
            (int)PositiveLong(lagKv, "lag_size", where), (int)PositiveLong(lagKv, "sink_size", where), PositiveDouble(lagKv, "ratio", where));
        if (!model.TryGetProperty("config", out var config) || config.ValueKind != JsonValueKind.Object)
            throw new EngineException($"{where}: missing 'config' object");
        // The shape is written with config.json's own keys, so config.json's reader reads it.
        var shape = ModelConfigLoader.Parse(config.GetRawText(), $"{where} config");
        if (shape.Architecture != architecture)
            throw new EngineException($"{where}: config describes {shape.Architecture.ToString().ToLowerInvariant()}, not '{architecture.ToString().ToLowerInvariant()}'");
        return new RegistryEntry(
            name, repo,
            model.TryGetProperty("revision", out _) ? String(model, "revision", where) : "main",
            architecture,
            PositiveLong(model, "parameters", where),
            PositiveLong(model, "bytes", where),
            recommendation,
            shape);
    }

    private static string String(JsonElement o, string name, string where) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
            ? s
            : throw new EngineException($"{where}: '{name}' must be a non-empty string");

    private static long PositiveLong(JsonElement o, string name, string where) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) && n > 0
            ? n
            : throw new EngineException($"{where}: '{name}' must be a positive integer");

    private static double PositiveDouble(JsonElement o, string name, string where) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.GetDouble() > 0
            ? v.GetDouble()
            : throw new EngineException($"{where}: '{name}' must be a positive number");
}
