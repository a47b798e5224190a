using Engine.Core.Config;

namespace Engine.Core.Checkpoints;

/// <summary>
/// The tensors a <see cref="ModelConfig"/> implies, and the check of a checkpoint against them that
/// runs before any device allocation, so a mismatched checkpoint fails with the first bad tensor named.
/// </summary>
public static class WeightSpec
{
    /// <summary>Every tensor the forward pass reads, in checkpoint order (no lm_head when embeddings are tied).</summary>
    public static IReadOnlyList<ExpectedTensor> For(ModelConfig c)
    {
        long hidden = c.HiddenSize, inter = c.IntermediateSize, q = c.QueryDim, kv = c.KvDim;
        var list = new List<ExpectedTensor> { new(TensorNames.Embedding, [c.VocabSize, hidden]) };
        for (int l = 0; l < c.NumLayers; l++)
        {
            list.Add(new(TensorNames.InputNorm(l), [hidden]));
            AddLinear(list, TensorNames.QProj(l), q, hidden, c.QkvBias);
            AddLinear(list, TensorNames.KProj(l), kv, hidden, c.QkvBias);
            AddLinear(list, TensorNames.VProj(l), kv, hidden, c.QkvBias);
            AddLinear(list, TensorNames.OProj(l), hidden, q, c.OutputProjBias);
            list.Add(new(TensorNames.PostAttentionNorm(l), [hidden]));
            AddLinear(list, TensorNames.GateProj(l), inter, hidden, c.MlpBias);
            AddLinear(list, TensorNames.UpProj(l), inter, hidden, c.MlpBias);
            AddLinear(list, TensorNames.DownProj(l), hidden, inter, c.MlpBias);
        }
        list.Add(new(TensorNames.FinalNorm, [hidden]));
        if (!c.TieWordEmbeddings) list.Add(new(TensorNames.LmHead, [c.VocabSize, hidden]));
        return list;
    }

    /// <summary>
    /// Throws an <see cref="EngineException"/> naming the first tensor that is missing or has the wrong
    /// shape. Extra tensors (a tied model's lm_head, rotary caches) are ignored.
    /// </summary>
    public static void Check(ModelConfig config, ICheckpoint checkpoint)
    {
        foreach (var expected in For(config))
        {
            if (!checkpoint.TryGet(expected.Name, out var actual))
            {
                string why = expected.Name == TensorNames.LmHead ? " (tie_word_embeddings is false, so the model needs its own output head)" : "";
                throw new EngineException(
                    $"checkpoint does not match config.json: tensor '{expected.Name}' is missing{why}; expected shape {ExpectedTensor.FormatShape(expected.Shape)}");
            }
            if (!actual.Shape.SequenceEqual(expected.Shape))
                throw new EngineException(
                    $"checkpoint does not match config.json: tensor '{expected.Name}' in {actual.File} has shape {ExpectedTensor.FormatShape(actual.Shape)}, expected {ExpectedTensor.FormatShape(expected.Shape)}");
        }
    }

    /// <summary>Parameters the model uses (tied embeddings counted once), as transformers' num_parameters counts them.</summary>
    public static long ParameterCount(ModelConfig config) => For(config).Sum(t => t.ElementCount);

    /// <summary>Bytes of the tensors the model uses, at the dtypes the checkpoint stores them in.</summary>
    public static long WeightBytes(ModelConfig config, ICheckpoint checkpoint) =>
        For(config).Sum(t => checkpoint.Get(t.Name).ByteLength);

    private static void AddLinear(List<ExpectedTensor> list, string projection, long outFeatures, long inFeatures, bool bias)
    {
        list.Add(new(TensorNames.Weight(projection), [outFeatures, inFeatures]));
        if (bias) list.Add(new(TensorNames.Bias(projection), [outFeatures]));
    }
}
