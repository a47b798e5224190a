namespace Engine.Core.Checkpoints;

/// <summary>Hugging Face tensor names of Llama/Qwen2 checkpoints.</summary>
public static class TensorNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    public static string Layer(int layer, string suffix) => $"model.layers.{layer}.{suffix}";

    public static string QProj(int l) => Layer(l, "self_attn.q_proj");
    public static string KProj(int l) => Layer(l, "self_attn.k_proj");
    public static string VProj(int l) => Layer(l, "self_attn.v_proj");
    public static string OProj(int l) => Layer(l, "self_attn.o_proj");
    public static string GateProj(int l) => Layer(l, "mlp.gate_proj");
    public static string UpProj(int l) => Layer(l, "mlp.up_proj");
    public static string DownProj(int l) => Layer(l, "mlp.down_proj");
    public static string InputNorm(int l) => Layer(l, "input_layernorm.weight");
    public static string PostAttentionNorm(int l) => Layer(l, "post_attention_layernorm.weight");

    public static string Weight(string projection) => projection + ".weight";
    public static string Bias(string projection) => projection + ".bias";
}
