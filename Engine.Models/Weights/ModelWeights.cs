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
            // Projections that read the same input, stacked row-wise into one array (views for each part).
            Stack Stacked(string[] projections, long[] rows, long inDim, bool biased)
            {
                var weights = StackTensors(backend, checkpoint, projections.Select(TensorNames.Weight).ToArray(), rows, inDim, uploaded);
                var biases = biased ? StackTensors(backend, checkpoint, projections.Select(TensorNames.Bias).ToArray(), rows, 1, uploaded) : null;
                return new Stack(weights, biases);
            }

            int h = config.HiddenSize, q = config.QueryDim, kv = config.KvDim, inter = config.IntermediateSize;
            var embedding = Tensor(TensorNames.Embedding, config.VocabSize, h);
            var layers = new LayerWeights[config.NumLayers];
            for (int l = 0; l < config.NumLayers; l++)
            {
                var qkv = Stacked([TensorNames.QProj(l), TensorNames.KProj(l), TensorNames.VProj(l)], [q, kv, kv], h, config.QkvBias);
                var gateUp = Stacked([TensorNames.GateProj(l), TensorNames.UpProj(l)], [inter, inter], h, config.MlpBias);
                layers[l] = new LayerWeights
                {
                    InputNorm = Tensor(TensorNames.InputNorm(l), h),
                    Qkv = qkv.Weights.Whole, QkvBias = qkv.Biases?.Whole,
                    Q = qkv.Weights.Parts[0], QBias = qkv.Biases?.Parts[0],
                    K = qkv.Weights.Parts[1], KBias = qkv.Biases?.Parts[1],
                    V = qkv.Weights.Parts[2], VBias = qkv.Biases?.Parts[2],
                    O = Tensor(TensorNames.Weight(TensorNames.OProj(l)), h, q),
                    OBias = config.OutputProjBias ? Tensor(TensorNames.Bias(TensorNames.OProj(l)), h) : null,
                    PostAttentionNorm = Tensor(TensorNames.PostAttentionNorm(l), h),
                    GateUp = gateUp.Weights.Whole, GateUpBias = gateUp.Biases?.Whole,
                    Gate = gateUp.Weights.Parts[0], GateBias = gateUp.Biases?.Parts[0],
                    Up = gateUp.Weights.Parts[1], UpBias = gateUp.Biases?.Parts[1],
                    Down = Tensor(TensorNames.Weight(TensorNames.DownProj(l)), h, inter),
                    DownBias = config.MlpBias ? Tensor(TensorNames.Bias(TensorNames.DownProj(l)), h) : null,
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

    /// <summary>One array per part, or (Whole) one array holding them all stacked with views as the parts.</summary>
    private sealed record StackedTensors(DeviceArray? Whole, DeviceArray[] Parts);

    private sealed record Stack(StackedTensors Weights, StackedTensors? Biases);

    /// <summary>
    /// Uploads tensors of shapes [rows[i], cols] one after the other into one array when they share a
    /// dtype (each part a view of it), else each into its own array. Every array made is added to
    /// <paramref name="uploaded"/>.
    /// </summary>
    private static StackedTensors StackTensors(IBackend backend, ICheckpoint checkpoint, string[] names, long[] rows, long cols, List<DeviceArray> uploaded)
    {
        var views = names.Select(checkpoint.Get).ToArray();
        long[] Shape(int i) => cols == 1 ? [rows[i]] : [rows[i], cols];
        if (views.Any(v => DeviceType(backend, v) != DeviceType(backend, views[0])))
        {
            var separate = new DeviceArray[views.Length];
            for (int i = 0; i < views.Length; i++) uploaded.Add(separate[i] = UploadTensor(backend, views[i], Shape(i)));
            return new StackedTensors(null, separate);
        }
        for (int i = 0; i < views.Length; i++) CheckTensor(views[i], Shape(i));
        var whole = backend.Allocate(DeviceType(backend, views[0]), rows.Sum() * cols);
        uploaded.Add(whole);
        var parts = new DeviceArray[views.Length];
        long offset = 0;
        for (int i = 0; i < views.Length; i++)
        {
            CopyTensor(backend, views[i], whole, offset);
            parts[i] = whole.View(offset, rows[i] * cols);
            offset += rows[i] * cols;
        }
        return new StackedTensors(whole, parts);
    }

    /// <summary>The dtype a weight takes on the device: its own, or F32 for a quantized dtype the backend has no kernels for.</summary>
    private static DType DeviceType(IBackend backend, TensorView view) =>
        backend.SupportsWeightType(view.DType) ? view.DType : DTypes.IsBlockQuantized(view.DType) ? DType.F32 : view.DType;

    private static void CheckTensor(TensorView view, long[] shape)
    {
        if (view.DType is not (DType.F32 or DType.F16 or DType.BF16) && !DTypes.IsBlockQuantized(view.DType))
            throw new EngineException($"tensor {view.Name} in {view.File} has dtype {view.DType}; weights must be F32, F16, BF16 or a block-quantized type");
        if (!view.Shape.SequenceEqual(shape))
            throw new EngineException($"tensor {view.Name} in {view.File} has shape [{string.Join(", ", view.Shape)}], expected [{string.Join(", ", shape)}] from config.json");
    }

    private static DeviceArray UploadTensor(IBackend backend, TensorView view, long[] shape)
    {
        CheckTensor(view, shape);
        var array = backend.Allocate(DeviceType(backend, view), view.ElementCount);
        try
        {
            CopyTensor(backend, view, array, 0);
            return array;
        }
        catch
        {
            array.Dispose();
            throw;
        }
    }

    /// <summary>Copies a tensor's elements to the device array from element <paramref name="at"/> on.</summary>
    private static void CopyTensor(IBackend backend, TensorView view, DeviceArray array, long at)
    {
        // Slices keep each span under 2 GiB (embeddings of large vocabularies can exceed it).
        const int sliceBytes = 1 << 30;
        if (DTypes.IsBlockQuantized(view.DType))
        {
            if (array.DType == view.DType)
            {
                long byteAt = DTypes.ByteCount(view.DType, at);
                for (long offset = 0; offset < view.ByteLength; offset += sliceBytes)
                    backend.Upload(array, view.Slice(offset, (int)Math.Min(sliceBytes, view.ByteLength - offset)), byteAt + offset);
                return;
            }
            // No kernels for the type on this backend: dequantized to F32 as it goes up.
            var buffer = new float[Math.Min(view.ElementCount, 1 << 20)];
            for (long start = 0; start < view.ElementCount; start += buffer.Length)
            {
                var part = buffer.AsSpan(0, (int)Math.Min(buffer.Length, view.ElementCount - start));
                view.ReadFloat32(start, part);
                backend.Upload<float>(array, part, at + start);
            }
            return;
        }
        int elementSize = DTypes.SizeOf(view.DType);
        for (long offset = 0; offset < view.ByteLength; offset += sliceBytes)
        {
            var bytes = view.Slice(offset, (int)Math.Min(sliceBytes, view.ByteLength - offset));
            // A NaN or infinite weight would turn every logit into NaN; name the tensor now rather than emit garbage later.
            if (NonFiniteScan.IndexOf(bytes, view.DType) is var bad and >= 0)
                throw new EngineException($"tensor {view.Name} in {view.File} holds a non-finite value (NaN or infinity) at element {offset / elementSize + bad}: the checkpoint is damaged");
            if (view.DType == DType.F32) backend.Upload(array, MemoryMarshal.Cast<byte, float>(bytes), at + offset / elementSize);
            else backend.Upload(array, MemoryMarshal.Cast<byte, ushort>(bytes), at + offset / elementSize);
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
