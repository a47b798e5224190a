namespace Engine.Core.Hub;

/// <summary>Picks, from a repo's file list, what the engine needs to run a model (the weight shards come later, from the index).</summary>
public static class NeededFiles
{
    /// <summary>Small files taken whenever the repo has them.</summary>
    public static readonly IReadOnlyList<string> Companions =
    [
        "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json",
    ];

    public const string SentencePieceModel = "tokenizer.model";

    /// <summary>
    /// config.json, the companions present, tokenizer.model only without tokenizer.json, and the weights (single file or index);
    /// for a quant tag, or a repo of GGUF files without config.json, the one GGUF file <see cref="GgufFileChoice"/> picks
    /// (it holds the tokenizer and chat template too).
    /// </summary>
    public static IReadOnlyList<string> Select(RepoRevision revision, string? quantTag = null)
    {
        var files = new HashSet<string>(revision.Files, StringComparer.Ordinal);
        string where = $"{revision.RepoId}@{revision.Commit[..Math.Min(12, revision.Commit.Length)]}";
        if (quantTag is not null || !files.Contains(SnapshotInspector.ConfigFileName) && revision.Files.Any(GgufFileChoice.IsModelFile))
        {
            string gguf = GgufFileChoice.Choose(revision.Files, quantTag, where);
            if (!RepoFilePath.IsSafe(gguf)) throw new EngineException($"{where}: file name '{gguf}' escapes the model folder");
            return [gguf];
        }
        if (!files.Contains(SnapshotInspector.ConfigFileName)) throw new EngineException($"{where} has no config.json: not a transformers model repo");
        var needed = new List<string> { SnapshotInspector.ConfigFileName };
        needed.AddRange(Companions.Where(files.Contains));
        if (!files.Contains("tokenizer.json") && files.Contains(SentencePieceModel)) needed.Add(SentencePieceModel);
        if (files.Contains(ShardIndex.SingleFileName)) needed.Add(ShardIndex.SingleFileName);
        else if (files.Contains(ShardIndex.IndexFileName)) needed.Add(ShardIndex.IndexFileName);
        else throw new EngineException($"{where} has no safetensors weights ({ShardIndex.SingleFileName} or {ShardIndex.IndexFileName}); the engine reads safetensors only");
        return needed;
    }
}
