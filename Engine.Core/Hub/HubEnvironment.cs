namespace Engine.Core.Hub;

/// <summary>
/// The Hugging Face settings the engine honours, read the way huggingface_hub reads them: the cache root
/// (<c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>), the endpoint
/// (<c>HF_ENDPOINT</c>), the token (<c>HF_TOKEN</c>) and offline mode (<c>HF_HUB_OFFLINE</c>).
/// </summary>
public sealed record HubEnvironment(string CacheRoot, string Endpoint, string? Token, bool Offline)
{
    public const string DefaultEndpoint = "https://huggingface.co";

    // Tests install their own environment per async flow, so parallel tests never race on process variables.
    private static readonly AsyncLocal<HubEnvironment?> Override = new();

    /// <summary>The environment in effect: a test's override, else the process environment.</summary>
    public static HubEnvironment Current => Override.Value ?? FromVariables(Environment.GetEnvironmentVariable);

    /// <summary>Makes <paramref name="environment"/> current for this async flow until disposed.</summary>
    internal static IDisposable Use(HubEnvironment environment)
    {
        var previous = Override.Value;
        Override.Value = environment;
        return new Restore(() => Override.Value = previous);
    }

    /// <summary>Reads the settings through <paramref name="variable"/> (an environment lookup).</summary>
    public static HubEnvironment FromVariables(Func<string, string?> variable)
    {
        string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        string? hubCache = NonEmpty(variable("HF_HUB_CACHE"));
        string? hfHome = NonEmpty(variable("HF_HOME"));
        string? xdgCache = NonEmpty(variable("XDG_CACHE_HOME"));
        string cacheRoot = hubCache
            ?? (hfHome is not null ? Path.Combine(hfHome, "hub")
                : Path.Combine(xdgCache ?? Path.Combine(home, ".cache"), "huggingface", "hub"));
        string endpoint = (NonEmpty(variable("HF_ENDPOINT")) ?? DefaultEndpoint).TrimEnd('/');
        string? token = NonEmpty(variable("HF_TOKEN"));
        return new HubEnvironment(ExpandHome(cacheRoot, home), endpoint, token, IsTrue(variable("HF_HUB_OFFLINE")));
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    // huggingface_hub's truthy values for boolean variables.
    private static bool IsTrue(string? s) =>
        s is not null && s.Trim().ToLowerInvariant() is "1" or "true" or "yes" or "on" or "y" or "t";

    private static string ExpandHome(string path, string home) =>
        path == "~" ? home : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, path[2..]) : path;

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
