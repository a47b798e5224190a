using Engine.Kernels;

namespace Engine.Models.Weights;

/// <summary>
/// One decoder layer's weights on the device, each in the checkpoint's own dtype. Shapes in HF layout
/// ([out, in] for projections); biases are null when the architecture has none.
/// </summary>
public sealed class LayerWeights : IDisposable
{
    /// <summary>input_layernorm [hidden].</summary>
    public required DeviceArray InputNorm { get; init; }
    /// <summary>q_proj [heads * headDim, hidden], bias [heads * headDim].</summary>
    public required DeviceArray Q { get; init; }
    public DeviceArray? QBias { get; init; }
    /// <summary>k_proj [kvHeads * headDim, hidden], bias [kvHeads * headDim].</summary>
    public required DeviceArray K { get; init; }
    public DeviceArray? KBias { get; init; }
    /// <summary>v_proj [kvHeads * headDim, hidden], bias [kvHeads * headDim].</summary>
    public required DeviceArray V { get; init; }
    public DeviceArray? VBias { get; init; }
    /// <summary>o_proj [hidden, heads * headDim], bias [hidden].</summary>
    public required DeviceArray O { get; init; }
    public DeviceArray? OBias { get; init; }
    /// <summary>post_attention_layernorm [hidden].</summary>
    public required DeviceArray PostAttentionNorm { get; init; }
    /// <summary>
    /// q_proj, k_proj and v_proj stacked [heads * headDim + 2 * kvHeads * headDim, hidden], and their biases
    /// stacked: decoding one token projects q, k and v in one pass over the weights. Q, K and V (and their
    /// biases) are views of it. Null when the three tensors differ in dtype (then each is its own array).
    /// </summary>
    public DeviceArray? Qkv { get; init; }
    public DeviceArray? QkvBias { get; init; }
    /// <summary>gate_proj and up_proj stacked [2 * intermediate, hidden] (and biases), as <see cref="Qkv"/>.</summary>
    public DeviceArray? GateUp { get; init; }
    public DeviceArray? GateUpBias { get; init; }
    /// <summary>gate_proj and up_proj [intermediate, hidden], down_proj [hidden, intermediate].</summary>
    public required DeviceArray Gate { get; init; }
    public DeviceArray? GateBias { get; init; }
    public required DeviceArray Up { get; init; }
    public DeviceArray? UpBias { get; init; }
    public required DeviceArray Down { get; init; }
    public DeviceArray? DownBias { get; init; }

    /// <summary>The arrays this layer owns (stacked arrays once, not their views).</summary>
    public IEnumerable<DeviceArray> All =>
        (Qkv is null ? new[] { Q, QBias, K, KBias, V, VBias } : new[] { Qkv, QkvBias })
            .Concat(new[] { InputNorm, O, OBias, PostAttentionNorm, Down, DownBias })
            .Concat(GateUp is null ? new[] { Gate, GateBias, Up, UpBias } : new[] { GateUp, GateUpBias })
            .OfType<DeviceArray>();

    public void Dispose()
    {
        foreach (var array in All) array.Dispose();
    }
}
