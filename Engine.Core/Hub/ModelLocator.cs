namespace Engine.Core.Hub;

/// <summary>
/// Turns a `--model` argument (a registry name, an org/name repo id, or a local folder) into the folder
/// holding the model's files. Placeholder: only local folders until the hub code lands.
/// </summary>
public static class ModelLocator
{
    /// <summary>The folder of the model; an <see cref="EngineException"/> saying where it looked when absent.</summary>
    public static string ResolveFolder(string model)
    {
        if (Directory.Exists(model)) return Path.GetFullPath(model);
        throw new EngineException($"model '{model}' not found: no such folder");
    }
}
