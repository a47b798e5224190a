using System.Runtime.InteropServices;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Kernels;

namespace Engine.Models.Weights;

/// <summary>
/// All weights of a Llama/Qwen2 model on the device, uploaded layer by layer from the checkpoint in
/// their own dtype (never widened: a bf16 model takes bf16 bytes on the device). Disposing frees them.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private ModelWeights(DeviceArray embedding, DeviceArray finalNorm, DeviceArray lmHead, bool tied, LayerWeights[] layers, DeviceArray invFreq)
    {
        Embedding = embedding; FinalNorm = finalNorm; LmHead = lmHead; Tied = tied; Layers = layers; InvFreq = invFreq;
    }

    /// <summary>embed_tokens [vocab, hidden].</summary>
    public DeviceArray Embedding { get; }
    /// <summary>model.norm [hidden].</summary>
    public DeviceArray FinalNorm { get; }
    /// <summary>lm_head [vocab, hidden]; the embedding itself when tied.</summary>
    public DeviceArray LmHead { get; }
    public bool Tied { get; }
    public LayerWeights[] Layers { get; }
    /// <summary>RoPE inverse frequencies F32 [headDim / 2], scaling included.</summary>
    public DeviceArray InvFreq { get; }
    /// <summary>Device bytes of all weights.</summary>
    public long ByteLength => Layers.Sum(l => l.All.Sum(a => a.ByteLength)) + Embedding.ByteLength + FinalNorm.ByteLength
                              + (Tied ? 0 : LmHead.ByteLength) + InvFreq.ByteLength;

    /// <summary>Uploads every weight the config calls for; a missing or mis-shaped tensor is an <see cref="EngineException"/>.</summary>
    public static ModelWeights Upload(IBackend backend, ICheckpoint checkpoint, ModelConfig config)
    {
        WeightSpec.Check(config, checkpoint); // before any allocation: a mismatch names its tensor
        var uploaded = new List<DeviceArray>();
        try
        {
            DeviceArray Tensor(string name, params long[] shape)
            {
                var array = UploadTensor(backend, checkpoint.Get(name), shape);
                uploaded.Add(array);
                return array;
            }
            DeviceArray? Bias(bool present, string projection, long size) =>
                present ? Tensor(TensorNames.Bias(projection), size) : null;

            int h = config.HiddenSize, q = config.QueryDim, kv = config.KvDim, inter = config.IntermediateSize;
            var embedding = Tensor(TensorNames.Embedding, config.VocabSize, h);
            var layers = new LayerWeights[config.NumLayers];
            for (int l = 0; l < config.NumLayers; l++)
            {
                layers[l] = new LayerWeights
                {
                    InputNorm = Tensor(TensorNames.InputNorm(l), h),
                    Q = Tensor(TensorNames.Weight(TensorNames.QProj(l)), q, h),
                    QBias = Bias(config.QkvBias, TensorNames.QProj(l), q),
                    K = Tensor(TensorNames.Weight(TensorNames.KProj(l)), kv, h),
                    KBias = Bias(config.QkvBias, TensorNames.KProj(l), kv),
                    V = Tensor(TensorNames.Weight(TensorNames.VProj(l)), kv, h),
                    VBias = Bias(config.QkvBias, TensorNames.VProj(l), kv),
                    O = Tensor(TensorNames.Weight(TensorNames.OProj(l)), h, q),
                    OBias = Bias(config.OutputProjBias, TensorNames.OProj(l), h),
                    PostAttentionNorm = Tensor(TensorNames.PostAttentionNorm(l), h),
                    Gate = Tensor(TensorNames.Weight(TensorNames.GateProj(l)), inter, h),
                    GateBias = Bias(config.MlpBias, TensorNames.GateProj(l), inter),
                    Up = Tensor(TensorNames.Weight(TensorNames.UpProj(l)), inter, h),
                    UpBias = Bias(config.MlpBias, TensorNames.UpProj(l), inter),
                    Down = Tensor(TensorNames.Weight(TensorNames.DownProj(l)), h, inter),
                    DownBias = Bias(config.MlpBias, TensorNames.DownProj(l), h),
                };
            }
            var finalNorm = Tensor(TensorNames.FinalNorm, h);
            // Tied models may still ship lm_head.weight (a copy); the embedding serves either way.
            bool tied = config.TieWordEmbeddings;
            var lmHead = tied ? embedding : Tensor(TensorNames.LmHead, config.VocabSize, h);

            float[] invFreq = RopeFrequencies.Compute(config);
            var invFreqArray = backend.Allocate(DType.F32, invFreq.Length);
            uploaded.Add(invFreqArray);
            backend.Upload<float>(invFreqArray, invFreq);
            return new ModelWeights(embedding, finalNorm, lmHead, tied, layers, invFreqArray);
        }
        catch
        {
            foreach (var array in uploaded) array.Dispose();
            throw;
        }
    }

    private static DeviceArray UploadTensor(IBackend backend, TensorView view, long[] shape)
    {
        if (view.DType is not (DType.F32 or DType.F16 or DType.BF16))
            throw new EngineException($"tensor {view.Name} in {view.File} has dtype {view.DType}; weights must be F32, F16 or BF16");
        if (!view.Shape.SequenceEqual(shape))
            throw new EngineException($"tensor {view.Name} in {view.File} has shape [{string.Join(", ", view.Shape)}], expected [{string.Join(", ", shape)}] from config.json");
        var array = backend.Allocate(view.DType, view.ElementCount);
        try
        {
            // Slices keep each span under 2 GiB (embeddings of large vocabularies can exceed it).
            const int sliceBytes = 1 << 30;
            int elementSize = DTypes.SizeOf(view.DType);
            for (long offset = 0; offset < view.ByteLength; offset += sliceBytes)
            {
                var bytes = view.Slice(offset, (int)Math.Min(sliceBytes, view.ByteLength - offset));
                if (view.DType == DType.F32) backend.Upload(array, MemoryMarshal.Cast<byte, float>(bytes), offset / elementSize);
                else backend.Upload(array, MemoryMarshal.Cast<byte, ushort>(bytes), offset / elementSize);
            }
            return array;
        }
        catch
        {
            array.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        Embedding.Dispose();
        FinalNorm.Dispose();
        if (!Tied) LmHead.Dispose();
        foreach (var layer in Layers) layer.Dispose();
        InvFreq.Dispose();
    }
}
