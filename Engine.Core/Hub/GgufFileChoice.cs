using System.Text.RegularExpressions;

namespace Engine.Core.Hub;

/// <summary>
/// Which GGUF file of a hub repo a quant tag names, by llama.cpp's <c>-hf</c> rules (common/download.cpp):
/// the first model file (not <c>mmproj</c>/<c>imatrix</c>) whose path contains the tag followed by '.' or
/// '-', case-insensitively; without a tag Q4_K_M, then Q8_0, then the first model file. Split files
/// (<c>-00001-of-00003.gguf</c>) are refused: the engine reads single-file GGUFs only.
/// </summary>
public static partial class GgufFileChoice
{
    /// <summary>The tags tried, in order, when none is given (llama.cpp's defaults).</summary>
    public static readonly IReadOnlyList<string> DefaultTags = ["Q4_K_M", "Q8_0"];

    /// <summary>A GGUF file that holds a model (projectors and importance matrices do not).</summary>
    public static bool IsModelFile(string path)
    {
        if (!path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return false;
        string name = path[(path.LastIndexOf('/') + 1)..];
        return !name.Contains("mmproj", StringComparison.Ordinal) && !name.Contains("imatrix", StringComparison.Ordinal);
    }

    /// <summary>
    /// The file a tag (null: the default order) picks from <paramref name="files"/>; null when none matches.
    /// A split file is an <see cref="EngineException"/> naming its parts.
    /// </summary>
    public static string? Pick(IReadOnlyList<string> files, string? tag, string where)
    {
        var models = files.Where(IsModelFile).ToList();
        foreach (string t in tag is null ? DefaultTags : [tag])
        {
            var pattern = new Regex(Regex.Escape(t) + "[.-]", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            if (models.FirstOrDefault(f => pattern.IsMatch(f) && IsFirstPart(f)) is { } match) return Single(match, models, where);
        }
        return tag is null && models.FirstOrDefault(IsFirstPart) is { } first ? Single(first, models, where) : null;
    }

    /// <summary>Like <see cref="Pick"/>, but no match is a one-line error listing the repo's quant tags.</summary>
    public static string Choose(IReadOnlyList<string> files, string? tag, string where)
    {
        if (Pick(files, tag, where) is { } file) return file;
        var tags = AvailableTags(files);
        if (tags.Count == 0) throw new EngineException($"{where} has no GGUF model file{(tag is null ? "" : $", so quant tag '{tag}' names nothing")}");
        throw new EngineException($"{where} has no GGUF file for quant tag '{tag}'; available quant tags: {string.Join(", ", tags)}");
    }

    /// <summary>The quant tags of a repo's model files (the last '-' or '.' separated word of each name, upper-cased), in file order.</summary>
    public static IReadOnlyList<string> AvailableTags(IReadOnlyList<string> files) =>
        files.Where(IsModelFile).Select(f => Split(f).Tag).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToList();

    private static bool IsFirstPart(string path) => Split(path).Index == 1;

    private static string Single(string file, IReadOnlyList<string> models, string where)
    {
        var split = Split(file);
        if (split.Count == 1) return file;
        var parts = models.Where(f => Split(f) is var s && s.Count == split.Count && s.Prefix == split.Prefix).ToList();
        throw new EngineException(
            $"{where}: {file} is split into {split.Count} files ({string.Join(", ", parts)}); the engine reads single-file GGUFs: download the parts and join them with llama-gguf-split --merge, then pass the result to --model");
    }

    /// <summary>The name without .gguf and split suffix, its tag, and the split part (1 of 1 when not split).</summary>
    private static (string Prefix, string Tag, int Index, int Count) Split(string path)
    {
        string prefix = path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? path[..^5] : path;
        int index = 1, count = 1;
        if (SplitPattern().Match(prefix) is { Success: true } m)
        {
            index = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            count = int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
            prefix = m.Groups[1].Value;
        }
        string tag = TagPattern().Match(prefix) is { Success: true } t ? t.Groups[1].Value.ToUpperInvariant() : "";
        return (prefix, tag, index, count);
    }

    [GeneratedRegex("^(.+)-([0-9]{5})-of-([0-9]{5})$", RegexOptions.IgnoreCase)]
    private static partial Regex SplitPattern();

    [GeneratedRegex("[-.]([A-Z0-9_]+)$", RegexOptions.IgnoreCase)]
    private static partial Regex TagPattern();
}
