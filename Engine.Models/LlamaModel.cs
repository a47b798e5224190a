using Engine.Core;
using Engine.Core.Config;
using Engine.Kernels;
using Engine.Models.Kv;
using Engine.Models.Weights;

namespace Engine.Models;

/// <summary>
/// The Llama / Qwen2 decoder (Qwen2 is Llama with q/k/v biases) on one backend: weights on the device
/// and one forward function that serves both a prefill chunk (rows = chunk length) and a decode step
/// (rows = 1), against a sequence in the paged KV store.
/// </summary>
public sealed class LlamaModel : IDisposable
{
    private readonly ForwardScratch _scratch;

    public LlamaModel(IBackend backend, ModelConfig config, ModelWeights weights)
    {
        if (config.NumHeads % config.NumKvHeads != 0)
            throw new EngineException($"num_attention_heads {config.NumHeads} is not a multiple of num_key_value_heads {config.NumKvHeads}");
        Backend = backend;
        Config = config;
        Weights = weights;
        Shape = new AttentionShape(config.NumHeads, config.NumKvHeads, config.HeadDim);
        _scratch = new ForwardScratch(backend, config);
    }

    public IBackend Backend { get; }
    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    public AttentionShape Shape { get; }

    /// <summary>
    /// Runs <paramref name="tokens"/> through the model at the sequence's next positions, appending their
    /// keys and values to its pages, and returns the logits F32 [1, vocab] of the last token (or
    /// [tokens, vocab] with <see cref="ForwardStep.AllLogits"/>). The returned array is scratch: valid
    /// until the next call.
    /// </summary>
    public DeviceArray Forward(CacheSequence sequence, ReadOnlySpan<int> tokens, ForwardStep step, PagedKvCache cache, IKvCachePolicy? policy = null)
    {
        int n = tokens.Length;
        if (n == 0) throw new ArgumentException("a forward step needs at least one token", nameof(tokens));
        foreach (int id in tokens)
            if ((uint)id >= (uint)Config.VocabSize) throw new EngineException($"token id {id} is outside the vocabulary (0..{Config.VocabSize - 1})");

        var c = Config;
        var b = Backend;
        var s = _scratch;
        s.Ensure(n, step.AllLogits ? n : 1);
        int hidden = c.HiddenSize, qDim = c.QueryDim, inter = c.IntermediateSize;
        float eps = (float)c.RmsNormEps;

        // Positions are logical: the count of tokens seen, whatever compression did to the slots.
        int start = sequence.LogicalLength;
        Span<int> positions = n <= 1024 ? stackalloc int[n] : new int[n];
        for (int i = 0; i < n; i++) positions[i] = start + i;
        b.Upload(s.Tokens, tokens);
        b.Upload<int>(s.Positions, positions);

        b.Embedding(Weights.Embedding, s.Tokens, s.X, n, hidden);
        for (int l = 0; l < c.NumLayers; l++)
        {
            var w = Weights.Layers[l];

            // Attention block: x += o_proj(attention(rope(q), rope(k), v)) over the normalised x.
            b.RmsNorm(s.X, w.InputNorm, s.Xb, n, hidden, eps);
            var (q, k, v) = ProjectQkv(w, n);
            b.Rope(q, s.Positions, Weights.InvFreq, n, c.NumHeads, c.HeadDim);
            b.Rope(k, s.Positions, Weights.InvFreq, n, c.NumKvHeads, c.HeadDim);

            int firstSlot = sequence.Kv.Layers[l].PhysicalLength;
            sequence.Grow(l, n);
            var pageTable = sequence.PageTable(l);
            b.KvWrite(cache.Pool, pageTable, k, v, firstSlot, n);
            b.Attention(q, cache.Pool, pageTable, firstSlot + n, s.Attention, n, Shape);
            policy?.AfterAttention(new Kv.KvStepContext(b, cache.Pool, sequence.Kv, l, pageTable, n, step.IsPrefill, step.IsLastPrefillChunk, q, Shape));

            b.Linear(s.Attention, w.O, w.OBias, s.Xb, n, qDim, hidden);
            b.Add(s.X, s.Xb, (long)n * hidden);

            // MLP block: x += down(silu(gate(h)) * up(h)) over the normalised x.
            b.RmsNorm(s.X, w.PostAttentionNorm, s.Xb, n, hidden, eps);
            var (gate, up) = ProjectGateUp(w, n);
            b.SiluMul(gate, up, gate, (long)n * inter);
            b.Linear(gate, w.Down, w.DownBias, s.Xb, n, inter, hidden);
            b.Add(s.X, s.Xb, (long)n * hidden);
        }
        sequence.Kv.LogicalLength = start + n;

        // The LM head runs on the last row only unless every row was asked for.
        int rows = step.AllLogits ? n : 1;
        var last = s.X.View((long)(n - rows) * hidden, (long)rows * hidden);
        b.RmsNorm(last, Weights.FinalNorm, s.Xb, rows, hidden, eps);
        var logits = s.Logits.View(0, (long)rows * c.VocabSize);
        b.Linear(s.Xb, Weights.LmHead, null, logits, rows, hidden, c.VocabSize);
        return logits;
    }

    /// <summary>
    /// q, k and v of the normalised x (in Xb). Decoding one token, a single product over the stacked
    /// weights (one pass, one dispatch instead of three); a chunk of rows needs each part's rows apart.
    /// </summary>
    private (DeviceArray Q, DeviceArray K, DeviceArray V) ProjectQkv(LayerWeights w, int n)
    {
        var s = _scratch;
        int hidden = Config.HiddenSize, qDim = Config.QueryDim, kvDim = Config.KvDim;
        if (n == 1 && w.Qkv is not null)
        {
            Backend.Linear(s.Xb, w.Qkv, w.QkvBias, s.QkvRow, 1, hidden, qDim + 2 * kvDim);
            return (s.QRow, s.KRow, s.VRow);
        }
        Backend.Linear(s.Xb, w.Q, w.QBias, s.Q, n, hidden, qDim);
        Backend.Linear(s.Xb, w.K, w.KBias, s.K, n, hidden, kvDim);
        Backend.Linear(s.Xb, w.V, w.VBias, s.V, n, hidden, kvDim);
        return (s.Q, s.K, s.V);
    }

    /// <summary>The MLP's gate and up activations of the normalised x (in Xb), stacked when decoding as <see cref="ProjectQkv"/>.</summary>
    private (DeviceArray Gate, DeviceArray Up) ProjectGateUp(LayerWeights w, int n)
    {
        var s = _scratch;
        int hidden = Config.HiddenSize, inter = Config.IntermediateSize;
        if (n == 1 && w.GateUp is not null)
        {
            Backend.Linear(s.Xb, w.GateUp, w.GateUpBias, s.GateUpRow, 1, hidden, 2 * inter);
            return (s.GateRow, s.UpRow);
        }
        Backend.Linear(s.Xb, w.Gate, w.GateBias, s.Gate, n, hidden, inter);
        Backend.Linear(s.Xb, w.Up, w.UpBias, s.Up, n, hidden, inter);
        return (s.Gate, s.Up);
    }

    /// <summary>Frees the activation buffers (the weights belong to the caller).</summary>
    public void Dispose() => _scratch.Dispose();
}
