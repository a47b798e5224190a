using Engine.Core;
using Engine.Core.Config;
using Engine.Kernels;
using Engine.Models.Kv;
using Engine.Models.Weights;

namespace Engine.Models;

/// <summary>
/// The Llama / Qwen2 decoder (Qwen2 is Llama with q/k/v biases) on one backend: weights on the device
/// and one forward function over a batch: the decode rows of many sequences and prefill chunks of
/// others, one pass over the weights, each row attending to its own sequence in the paged KV store.
/// A single sequence is a batch of one.
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private readonly ForwardScratch _scratch;
    private readonly KvBatchBuilder _batch;

    public LlamaModel(IBackend backend, ModelConfig config, ModelWeights weights)
    {
        if (config.NumHeads % config.NumKvHeads != 0)
            throw new EngineException($"num_attention_heads {config.NumHeads} is not a multiple of num_key_value_heads {config.NumKvHeads}");
        Backend = backend;
        Config = config;
        Weights = weights;
        Shape = new AttentionShape(config.NumHeads, config.NumKvHeads, config.HeadDim);
        _scratch = new ForwardScratch(backend, config);
        _batch = new KvBatchBuilder(backend, config.NumLayers);
        PolicyScratch = new KvPolicyScratch(backend);
    }

    public IBackend Backend { get; }
    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    public AttentionShape Shape { get; }
    /// <summary>Device scratch lent to the KV policies of the sequences this model runs.</summary>
    public KvPolicyScratch PolicyScratch { get; }

    /// <summary>
    /// Runs a batch through the model: each entry's tokens at its sequence's next logical positions,
    /// their keys and values written to the slots the caller appended (<see cref="KvSequence.Append"/>),
    /// each sequence's KV policy called after every layer's attention. Returns the logits of the rows
    /// that need them (<see cref="ForwardStep.LogitRows"/>). Does no page bookkeeping: the caller
    /// advances each sequence's logical length afterwards.
    /// </summary>
    public ForwardLogits Forward(IReadOnlyList<BatchEntry> entries)
    {
        if (entries.Count == 0) throw new ArgumentException("a forward step needs at least one sequence", nameof(entries));
        foreach (var entry in entries)
        {
            if (entry.Tokens.Length == 0) throw new ArgumentException("a forward step needs at least one token per sequence", nameof(entries));
            foreach (int id in entry.Tokens.Span)
                if ((uint)id >= (uint)Config.VocabSize) throw new EngineException($"token id {id} is outside the vocabulary (0..{Config.VocabSize - 1})");
        }

        var c = Config;
        var b = Backend;
        var s = _scratch;
        var (firstLogitRow, logitRowCount, logitRows) = LogitRows(entries);
        var batch = _batch.Build(entries, logitRowCount);
        int n = batch.Rows;
        s.Ensure(n, Math.Max(1, logitRows));
        int hidden = c.HiddenSize, qDim = c.QueryDim, inter = c.IntermediateSize;
        float eps = (float)c.RmsNormEps;

        // Each op below is one launch on the ILGPU backend for a decode step (fused ops, IBackend; six per layer):
        // the backends' default compositions run the plain ops where a fused kernel does not cover the case.
        b.Embedding(Weights.Embedding, batch.Tokens, s.X, n, hidden);
        for (int l = 0; l < c.NumLayers; l++)
        {
            var w = Weights.Layers[l];
            var kv = batch.Layers[l];

            // Attention block: x += o_proj(attention(rope(q), rope(k), v)) over the normalised x.
            var (q, k, v) = ProjectQkv(w, n, eps);
            b.RopeKvWrite(q, k, v, batch.Positions, Weights.InvFreq, batch.Pool, kv, c.NumHeads);
            b.Attention(q, batch.Pool, kv, s.Attention, Shape);
            AfterAttention(entries, kv, l, q);
            b.LinearResidual(s.Attention, w.O, w.OBias, s.X, s.Xb, n, qDim, hidden);

            // MLP block: x += down(silu(gate(h)) * up(h)) over the normalised x.
            var (gate, up) = ProjectGateUp(w, n, eps);
            b.SiluMulLinearResidual(gate, up, w.Down, w.DownBias, s.X, s.Xb, n, inter, hidden);
        }

        // The LM head runs on the rows that need logits only: gathered, normalised and multiplied in one op.
        var logits = s.Logits.View(0, (long)logitRows * c.VocabSize);
        if (logitRows > 0)
            b.RmsNormLinear(s.X, batch.LogitRows, Weights.FinalNorm, eps, Weights.LmHead, null, logits, s.Xb, logitRows, hidden, c.VocabSize);
        return new ForwardLogits(logits, firstLogitRow, logitRowCount, c.VocabSize);
    }

    /// <summary>
    /// One sequence alone, a batch of one: appends <paramref name="tokens"/>' slots, runs them and
    /// advances the logical length. Returns the step's logits (scratch, valid until the next step).
    /// </summary>
    public DeviceArray Forward(KvSequence sequence, ReadOnlySpan<int> tokens, ForwardStep step)
    {
        sequence.Append(tokens.Length);
        var logits = Forward([new BatchEntry(sequence, tokens.ToArray(), step)]);
        sequence.LogicalLength += tokens.Length;
        return logits.Of(0);
    }

    /// <summary>Each sequence's KV policy sees its own rows after a layer's attention (use, then compress).</summary>
    private void AfterAttention(IReadOnlyList<BatchEntry> entries, KvBatchLayer kv, int layer, DeviceArray q)
    {
        long qDim = Config.QueryDim;
        for (int e = 0; e < entries.Count; e++)
        {
            var entry = entries[e];
            if (entry.Sequence.Policy is not { } policy) continue;
            var rows = kv.Sequences[e];
            policy.AfterAttention(new KvStepContext(Backend, entry.Sequence.Cache.Pool, entry.Sequence, layer, kv.PageTable(e), rows.Rows,
                entry.Step.IsPrefill, entry.Step.IsLastPrefillChunk, q.View(rows.FirstRow * qDim, rows.Rows * qDim), Shape, PolicyScratch));
        }
    }

    /// <summary>Where each entry's logits go: its first row in the logits, its row count, and the total.</summary>
    private static (int[] First, int[] Count, int Total) LogitRows(IReadOnlyList<BatchEntry> entries)
    {
        var first = new int[entries.Count];
        var count = new int[entries.Count];
        int total = 0;
        for (int e = 0; e < entries.Count; e++)
        {
            first[e] = total;
            count[e] = entries[e].Step.LogitRows(entries[e].Tokens.Length);
            total += count[e];
        }
        return (first, count, total);
    }

    /// <summary>
    /// q, k and v of the normalised x. Decoding one token, a single product over the stacked weights with the input
    /// RMSNorm fused in (one pass, one dispatch instead of four); several rows normalise once and need each part's rows apart.
    /// </summary>
    private (DeviceArray Q, DeviceArray K, DeviceArray V) ProjectQkv(LayerWeights w, int n, float eps)
    {
        var s = _scratch;
        int hidden = Config.HiddenSize, qDim = Config.QueryDim, kvDim = Config.KvDim;
        if (n == 1 && w.Qkv is not null)
        {
            Backend.RmsNormLinear(s.X, null, w.InputNorm, eps, w.Qkv, w.QkvBias, s.QkvRow, s.Xb, 1, hidden, qDim + 2 * kvDim);
            return (s.QRow, s.KRow, s.VRow);
        }
        Backend.RmsNorm(s.X, w.InputNorm, s.Xb, n, hidden, eps);
        Backend.Linear(s.Xb, w.Q, w.QBias, s.Q, n, hidden, qDim);
        Backend.Linear(s.Xb, w.K, w.KBias, s.K, n, hidden, kvDim);
        Backend.Linear(s.Xb, w.V, w.VBias, s.V, n, hidden, kvDim);
        return (s.Q, s.K, s.V);
    }

    /// <summary>The MLP's gate and up activations of the normalised x, stacked and fused with the norm when decoding as <see cref="ProjectQkv"/>.</summary>
    private (DeviceArray Gate, DeviceArray Up) ProjectGateUp(LayerWeights w, int n, float eps)
    {
        var s = _scratch;
        int hidden = Config.HiddenSize, inter = Config.IntermediateSize;
        if (n == 1 && w.GateUp is not null)
        {
            Backend.RmsNormLinear(s.X, null, w.PostAttentionNorm, eps, w.GateUp, w.GateUpBias, s.GateUpRow, s.Xb, 1, hidden, 2 * inter);
            return (s.GateRow, s.UpRow);
        }
        Backend.RmsNorm(s.X, w.PostAttentionNorm, s.Xb, n, hidden, eps);
        Backend.Linear(s.Xb, w.Gate, w.GateBias, s.Gate, n, hidden, inter);
        Backend.Linear(s.Xb, w.Up, w.UpBias, s.Up, n, hidden, inter);
        return (s.Gate, s.Up);
    }

    /// <summary>Frees the activation buffers and the policies' scratch (the weights belong to the caller).</summary>
    public void Dispose()
    {
        _scratch.Dispose();
        _batch.Dispose();
        PolicyScratch.Dispose();
    }
}
