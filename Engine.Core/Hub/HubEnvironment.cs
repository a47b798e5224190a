namespace Engine.Core.Hub;

/// <summary>
/// The Hugging Face settings the engine honours, read the way huggingface_hub reads them: the cache root
/// (<c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c>), the endpoint
/// (<c>HF_ENDPOINT</c>), the token (<c>HF_TOKEN</c>, else the file <c>huggingface-cli login</c> writes:
/// <c>HF_TOKEN_PATH</c> or <c>$HF_HOME/token</c>) and offline mode (<c>HF_HUB_OFFLINE</c>).
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
        // HUGGINGFACE_HUB_CACHE is the older name huggingface_hub still honours.
        string? hubCache = NonEmpty(variable("HF_HUB_CACHE")) ?? NonEmpty(variable("HUGGINGFACE_HUB_CACHE"));
        string hfHome = ExpandHome(NonEmpty(variable("HF_HOME"))
            ?? Path.Combine(NonEmpty(variable("XDG_CACHE_HOME")) ?? Path.Combine(home, ".cache"), "huggingface"), home);
        string cacheRoot = hubCache is not null ? ExpandHome(hubCache, home) : Path.Combine(hfHome, "hub");
        string endpoint = (NonEmpty(variable("HF_ENDPOINT")) ?? DefaultEndpoint).TrimEnd('/');
        string tokenFile = ExpandHome(NonEmpty(variable("HF_TOKEN_PATH")) ?? Path.Combine(hfHome, "token"), home);
        string? token = NonEmpty(variable("HF_TOKEN")) ?? ReadTokenFile(tokenFile);
        return new HubEnvironment(cacheRoot, endpoint, token, IsTrue(variable("HF_HUB_OFFLINE")));
    }

    private static string? ReadTokenFile(string path)
    {
        try
        {
            return File.Exists(path) ? NonEmpty(File.ReadAllText(path)) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
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
