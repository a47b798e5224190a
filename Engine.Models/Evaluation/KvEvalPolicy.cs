using Engine.Core;

namespace Engine.Models.Evaluation;

/// <summary>The KV-cache policies `engine eval` compares (Full: the uncompressed cache against itself).</summary>
public enum KvEvalPolicy { Full, LagKv, StreamingLlm, SnapKv, H2O }

/// <summary>Names of <see cref="KvEvalPolicy"/> on the command line.</summary>
public static class KvEvalPolicyNames
{
    public static readonly KvEvalPolicy[] Compressing = [KvEvalPolicy.LagKv, KvEvalPolicy.StreamingLlm, KvEvalPolicy.SnapKv, KvEvalPolicy.H2O];

    public static string Name(KvEvalPolicy policy) => policy switch
    {
        KvEvalPolicy.Full => "full",
        KvEvalPolicy.LagKv => "lagkv",
        KvEvalPolicy.StreamingLlm => "streaming",
        KvEvalPolicy.SnapKv => "snapkv",
        _ => "h2o",
    };

    /// <summary>Parses `--policy`: one name, a comma-separated list, or `all` (every compressing policy).</summary>
    public static IReadOnlyList<KvEvalPolicy> Parse(string text)
    {
        var result = new List<KvEvalPolicy>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string name = part.ToLowerInvariant();
            if (name == "all") { result.AddRange(Compressing); continue; }
            KvEvalPolicy? policy = name switch
            {
                "full" or "none" => KvEvalPolicy.Full,
                "lagkv" => KvEvalPolicy.LagKv,
                "streaming" or "streamingllm" => KvEvalPolicy.StreamingLlm,
                "snapkv" => KvEvalPolicy.SnapKv,
                "h2o" => KvEvalPolicy.H2O,
                _ => null,
            };
            result.Add(policy ?? throw new EngineException($"--policy '{part}': expected lagkv, streaming, snapkv, h2o, full or all"));
        }
        if (result.Count == 0) throw new EngineException("--policy is empty: expected lagkv, streaming, snapkv, h2o, full or all");
        return result.Distinct().ToArray();
    }
}
