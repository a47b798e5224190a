using Engine.Core.Kv.LagKv;
using Engine.Models;
using Engine.Models.Generation;

namespace Engine.Server;

/// <summary>How `engine serve` (or an app that maps the endpoints) runs: the model, its name on the wire, access and queueing.</summary>
public sealed record ServerOptions
{
    /// <summary>Model: registry name, Hugging Face repo id or folder (as <see cref="InferenceEngine.Load"/> takes).</summary>
    public required string Model { get; init; }
    public EngineOptions Engine { get; init; } = new();
    /// <summary>The id clients send as `model` and GET /v1/models lists; null: the folder's or registry name.</summary>
    public string? ServedModelName { get; init; }
    /// <summary>When set, every endpoint but /health and the page needs `Authorization: Bearer KEY`.</summary>
    public string? ApiKey { get; init; }
    /// <summary>Requests that may wait for the engine; one more is answered 503 with Retry-After.</summary>
    public int MaxQueue { get; init; } = 64;
    /// <summary>Requests the engine runs at once (its scheduler batches them); more wait in the server's queue.</summary>
    public int MaxConcurrent { get; init; } = 64;
    /// <summary>A Jinja chat template file that replaces the model's.</summary>
    public string? ChatTemplatePath { get; init; }
    /// <summary>The KV policy of requests without a `kv_policy` object: full, or a policy name with its LagKV budget.</summary>
    public string DefaultKvPolicy { get; init; } = "full";
    public LagKvOptions? DefaultLagKv { get; init; }
    public PrefillSchedule Prefill { get; init; } = PrefillSchedule.Default;
    /// <summary>After SIGTERM: how long running requests may finish before they are cancelled.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The name the API uses for the model: --served-model-name, else a folder's name, a GGUF file's name
    /// without its extension, the folder of another model file (config.json, safetensors), else the model as given.
    /// </summary>
    public string ModelId => ServedModelName ?? LocalName(Model) ?? Model;

    private static string? LocalName(string model)
    {
        string path = Path.GetFullPath(model).TrimEnd('/', '\\');
        if (Directory.Exists(path)) return Path.GetFileName(path);
        if (!File.Exists(path)) return null;
        return path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)
            ? Path.GetFileNameWithoutExtension(path)
            : Path.GetFileName(Path.GetDirectoryName(path));
    }
}
