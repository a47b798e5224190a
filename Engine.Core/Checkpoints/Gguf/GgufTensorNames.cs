using System.Text.RegularExpressions;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>llama.cpp's GGUF tensor names of Llama/Qwen2 models and the Hugging Face names they stand for.</summary>
public static partial class GgufTensorNames
{
    public const string Embedding = "token_embd.weight";
    public const string FinalNorm = "output_norm.weight";
    public const string Output = "output.weight";

    public static string Block(int layer, string name) => $"blk.{layer}.{name}";

    private static readonly Dictionary<string, string> LayerParts = new(StringComparer.Ordinal)
    {
        ["attn_norm.weight"] = "input_layernorm.weight",
        ["attn_q.weight"] = "self_attn.q_proj.weight", ["attn_q.bias"] = "self_attn.q_proj.bias",
        ["attn_k.weight"] = "self_attn.k_proj.weight", ["attn_k.bias"] = "self_attn.k_proj.bias",
        ["attn_v.weight"] = "self_attn.v_proj.weight", ["attn_v.bias"] = "self_attn.v_proj.bias",
        ["attn_output.weight"] = "self_attn.o_proj.weight", ["attn_output.bias"] = "self_attn.o_proj.bias",
        ["ffn_norm.weight"] = "post_attention_layernorm.weight",
        ["ffn_gate.weight"] = "mlp.gate_proj.weight", ["ffn_gate.bias"] = "mlp.gate_proj.bias",
        ["ffn_up.weight"] = "mlp.up_proj.weight", ["ffn_up.bias"] = "mlp.up_proj.bias",
        ["ffn_down.weight"] = "mlp.down_proj.weight", ["ffn_down.bias"] = "mlp.down_proj.bias",
    };

    /// <summary>The Hugging Face name of a GGUF tensor, or null for tensors the engine does not use (rope_freqs, ...).</summary>
    public static string? ToHuggingFace(string ggufName)
    {
        switch (ggufName)
        {
            case Embedding: return TensorNames.Embedding;
            case FinalNorm: return TensorNames.FinalNorm;
            case Output: return TensorNames.LmHead;
        }
        var match = BlockPattern().Match(ggufName);
        return match.Success && LayerParts.TryGetValue(match.Groups[2].Value, out var part)
            ? TensorNames.Layer(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), part)
            : null;
    }

    /// <summary>The GGUF name of a Hugging Face tensor name (for messages), or the name itself when it has none.</summary>
    public static string FromHuggingFace(string hfName)
    {
        switch (hfName)
        {
            case TensorNames.Embedding: return Embedding;
            case TensorNames.FinalNorm: return FinalNorm;
            case TensorNames.LmHead: return Output;
        }
        var match = HuggingFaceLayerPattern().Match(hfName);
        if (match.Success)
            foreach (var (gguf, hf) in LayerParts)
                if (hf == match.Groups[2].Value) return $"blk.{match.Groups[1].Value}.{gguf}";
        return hfName;
    }

    /// <summary>Whether the GGUF tensor is a query or key projection (weight or bias), whose rows llama.cpp's Llama converter permutes.</summary>
    public static bool IsQueryOrKey(string ggufName, out bool isKey)
    {
        isKey = ggufName.EndsWith(".attn_k.weight", StringComparison.Ordinal) || ggufName.EndsWith(".attn_k.bias", StringComparison.Ordinal);
        return isKey || ggufName.EndsWith(".attn_q.weight", StringComparison.Ordinal) || ggufName.EndsWith(".attn_q.bias", StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^model\.layers\.(\d{1,6})\.(.+)$")]
    private static partial Regex HuggingFaceLayerPattern();

    [GeneratedRegex(@"^blk\.(\d{1,6})\.(.+)$")]
    private static partial Regex BlockPattern();
}
