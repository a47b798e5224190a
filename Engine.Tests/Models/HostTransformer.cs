using Engine.Core.Checkpoints;
using Engine.Core.Config;

namespace Engine.Tests.Models;

/// <summary>
/// The float64 reference of the Llama/Qwen2 forward pass: the whole sequence at once, plain arrays,
/// no cache, no pages, causal attention computed directly. Weights are read from the checkpoint
/// (so bf16/f16 weights are the same numbers the engine sees).
/// </summary>
public sealed class HostTransformer
{
    private readonly ModelConfig _c;
    private readonly Func<string, double[]> _w;
    private readonly double[] _invFreq;

    public HostTransformer(ModelConfig config, ICheckpoint checkpoint)
    {
        _c = config;
        var cache = new Dictionary<string, double[]>();
        _w = name => cache.TryGetValue(name, out var v) ? v
            : cache[name] = checkpoint.Get(name).ToFloat32Array().Select(f => (double)f).ToArray();
        _invFreq = RopeFrequencies.Compute(config).Select(f => (double)f).ToArray();
    }

    /// <summary>Logits [tokens.Length, vocab] for every position.</summary>
    public double[][] Logits(int[] tokens)
    {
        var c = _c;
        int n = tokens.Length, h = c.HiddenSize;
        var emb = _w(TensorNames.Embedding);
        var x = new double[n][];
        for (int t = 0; t < n; t++) x[t] = emb.AsSpan(tokens[t] * h, h).ToArray();

        for (int l = 0; l < c.NumLayers; l++)
        {
            var xn = x.Select(r => RmsNorm(r, _w(TensorNames.InputNorm(l)))).ToArray();
            var q = xn.Select(r => Linear(r, TensorNames.QProj(l), c.QueryDim, c.QkvBias)).ToArray();
            var k = xn.Select(r => Linear(r, TensorNames.KProj(l), c.KvDim, c.QkvBias)).ToArray();
            var v = xn.Select(r => Linear(r, TensorNames.VProj(l), c.KvDim, c.QkvBias)).ToArray();
            for (int t = 0; t < n; t++) { Rope(q[t], c.NumHeads, t); Rope(k[t], c.NumKvHeads, t); }

            int group = c.NumHeads / c.NumKvHeads, d = c.HeadDim;
            double scale = 1 / Math.Sqrt(d);
            for (int t = 0; t < n; t++)
            {
                var att = new double[c.QueryDim];
                for (int head = 0; head < c.NumHeads; head++)
                {
                    int kvh = head / group;
                    var scores = new double[t + 1];
                    for (int s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (int i = 0; i < d; i++) dot += q[t][head * d + i] * k[s][kvh * d + i];
                        scores[s] = dot * scale;
                    }
                    double max = scores.Max(), sum = 0;
                    for (int s = 0; s <= t; s++) { scores[s] = Math.Exp(scores[s] - max); sum += scores[s]; }
                    for (int s = 0; s <= t; s++)
                        for (int i = 0; i < d; i++) att[head * d + i] += scores[s] / sum * v[s][kvh * d + i];
                }
                var o = Linear(att, TensorNames.OProj(l), h, c.OutputProjBias);
                for (int i = 0; i < h; i++) x[t][i] += o[i];
            }
            for (int t = 0; t < n; t++)
            {
                var hn = RmsNorm(x[t], _w(TensorNames.PostAttentionNorm(l)));
                var gate = Linear(hn, TensorNames.GateProj(l), c.IntermediateSize, c.MlpBias);
                var up = Linear(hn, TensorNames.UpProj(l), c.IntermediateSize, c.MlpBias);
                var act = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
                var down = Linear(act, TensorNames.DownProj(l), h, c.MlpBias);
                for (int i = 0; i < h; i++) x[t][i] += down[i];
            }
        }
        string lmHead = c.TieWordEmbeddings ? TensorNames.Embedding : TensorNames.LmHead;
        return x.Select(r => MatVec(RmsNorm(r, _w(TensorNames.FinalNorm)), _w(lmHead), c.VocabSize)).ToArray();
    }

    private double[] RmsNorm(double[] x, double[] weight)
    {
        double ms = x.Sum(a => a * a) / x.Length;
        double inv = 1 / Math.Sqrt(ms + _c.RmsNormEps);
        return x.Select((a, i) => a * inv * weight[i]).ToArray();
    }

    private double[] Linear(double[] x, string projection, int outDim, bool bias)
    {
        var y = MatVec(x, _w(TensorNames.Weight(projection)), outDim);
        if (bias) { var b = _w(TensorNames.Bias(projection)); for (int i = 0; i < outDim; i++) y[i] += b[i]; }
        return y;
    }

    private static double[] MatVec(double[] x, double[] w, int outDim)
    {
        var y = new double[outDim];
        for (int o = 0; o < outDim; o++)
        {
            double sum = 0;
            for (int i = 0; i < x.Length; i++) sum += w[(long)o * x.Length + i] * x[i];
            y[o] = sum;
        }
        return y;
    }

    private void Rope(double[] x, int heads, int position)
    {
        int d = _c.HeadDim, half = d / 2;
        for (int head = 0; head < heads; head++)
            for (int j = 0; j < half; j++)
            {
                double angle = position * _invFreq[j];
                double a = x[head * d + j], b = x[head * d + j + half];
                x[head * d + j] = a * Math.Cos(angle) - b * Math.Sin(angle);
                x[head * d + j + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
    }
}
