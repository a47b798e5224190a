using System.Text.RegularExpressions;

namespace Engine.Core.Hub;

/// <summary>
/// What a <c>--model</c> argument names: a local folder, or a hub repo (given directly as <c>org/name</c> or
/// through a registry name) at a revision. Either hub form may end in <c>@revision</c>; a repo id may carry a
/// quant tag naming one of its GGUF files, as llama.cpp's <c>-hf</c> does: <c>org/name:Q4_K_M</c>.
/// </summary>
public sealed partial record ModelReference(string Argument, string? Folder, string? RepoId, string Revision, RegistryEntry? Entry)
{
    public bool IsFolder => Folder is not null;

    /// <summary>The quant tag after ':' (<c>Q4_K_M</c>), which picks a GGUF file of the repo (see <see cref="GgufFileChoice"/>); null when none was given.</summary>
    public string? QuantTag { get; init; }

    /// <summary>The name to give <c>engine pull</c>: the registry name when there is one, else the repo id (with its quant tag).</summary>
    public string PullName => (Entry?.Name ?? RepoId ?? Argument) + (QuantTag is null ? "" : ":" + QuantTag)
                              + (Revision == (Entry?.Revision ?? "main") ? "" : "@" + Revision);

    /// <summary>The hub reference of a registry entry at its recorded revision.</summary>
    public static ModelReference ForEntry(RegistryEntry entry) => new(entry.Name, null, entry.Repo, entry.Revision, entry);

    /// <summary>
    /// Classifies <paramref name="argument"/>: an existing folder (or a file in it: its folder) wins, then a registry name, then an
    /// <c>org/name</c> repo id; anything else is an <see cref="EngineException"/>. The registry is only loaded
    /// when needed, through <paramref name="registry"/>.
    /// </summary>
    public static ModelReference Parse(string argument, Func<ModelRegistry> registry)
    {
        if (string.IsNullOrWhiteSpace(argument)) throw new EngineException("no model given: pass a registry name, an org/name repo id or a folder");
        if (Directory.Exists(argument)) return new ModelReference(argument, Path.GetFullPath(argument), null, "main", null);
        // A GGUF file is a whole model; another file of a model (its model.safetensors, a shard, config.json) stands for the folder holding it.
        if (File.Exists(argument) && Checkpoints.Gguf.GgufFile.IsGgufPath(argument)) return new ModelReference(argument, Path.GetFullPath(argument), null, "main", null);
        if (File.Exists(argument)) return new ModelReference(argument, Path.GetDirectoryName(Path.GetFullPath(argument))!, null, "main", null);

        var (untagged, tag) = SplitQuantTag(argument);
        int at = untagged.LastIndexOf('@');
        string name = at > 0 ? untagged[..at] : untagged;
        string? revision = at > 0 ? untagged[(at + 1)..] : null;
        if (revision is "") throw new EngineException($"model '{argument}': empty revision after '@'");
        if (revision is not null && !IsRevision(revision)) throw new EngineException($"model '{argument}': '{revision}' is not a valid revision");

        if (IsRepoId(name)) return new ModelReference(argument, null, name, revision ?? "main", null) { QuantTag = tag };
        if (!LooksLikePath(name) && registry().Find(name) is { } entry)
        {
            if (tag is not null)
                throw new EngineException($"model '{argument}': a quant tag picks a GGUF file of an org/name repo; '{name}' is a registry name (safetensors): use --quantize, or the GGUF repo's id");
            return new ModelReference(argument, null, entry.Repo, revision ?? entry.Revision, entry);
        }
        if (LooksLikePath(argument)) throw new EngineException($"model '{argument}' not found: no such folder");
        throw new EngineException(
            $"model '{argument}' not found: not a folder, not a name in {ModelRegistry.FileName} (see: engine models), and not an org/name repo id");
    }

    /// <summary>
    /// Takes the quant tag out of <c>org/name:TAG</c> or <c>org/name:TAG@rev</c> or <c>org/name@rev:TAG</c>; (argument, null) without one.
    /// </summary>
    private static (string Untagged, string? Tag) SplitQuantTag(string argument)
    {
        int colon = argument.IndexOf(':');
        if (colon <= 0) return (argument, null);
        int end = argument.IndexOf('@', colon);
        if (end < 0) end = argument.Length;
        string tag = argument[(colon + 1)..end];
        if (QuantTagPattern().IsMatch(tag)) return (argument[..colon] + argument[end..], tag);
        // Not a tag: a path such as C:\models is left to the not-found error; after a repo id it is a bad tag.
        if (!IsRepoId(argument[..colon])) return (argument, null);
        throw new EngineException($"model '{argument}': '{tag}' is not a quant tag (letters, digits, '_', '-' and '.', e.g. Q4_K_M)");
    }

    /// <summary>True for <c>org/name</c> with hub-legal characters on both sides.</summary>
    public static bool IsRepoId(string s) => RepoIdPattern().IsMatch(s) && !s.Contains("--", StringComparison.Ordinal) && !s.Contains("..", StringComparison.Ordinal);

    private static bool IsRevision(string s) => RepoFilePath.IsSafe(s) && !s.Any(char.IsWhiteSpace);

    private static bool LooksLikePath(string s) =>
        s.StartsWith('.') || s.StartsWith('/') || s.StartsWith('~') || s.Contains('\\') || s.Count(c => c == '/') > 1;

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex QuantTagPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex RepoIdPattern();
}
