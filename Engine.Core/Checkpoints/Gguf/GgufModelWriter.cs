using Engine.Core.Config;

namespace Engine.Core.Checkpoints.Gguf;

/// <summary>
/// <c>engine quantize</c>: writes a model as a GGUF v3 file that llama.cpp loads, as its converter plus
/// <c>llama-quantize --pure</c> would: <c>general.architecture</c> llama or qwen2 with the hyperparameter
/// keys, llama.cpp's tensor names (Llama's q/k rows permuted into the converter's interleaved RoPE order,
/// the inverse of what <see cref="GgufCheckpoint"/> undoes), the tokenizer and chat template, alignment
/// 32. Matrices are quantized exactly as <see cref="QuantizedCheckpoint"/> quantizes at load (so the file
/// computes what <c>--quantize</c> computes); norms and biases are F32; a matrix whose rows are not whole
/// blocks stays in its float type (llama.cpp would fall back to another block type, or F16).
/// </summary>
public static class GgufModelWriter
{
    /// <summary>What was written: each tensor type's count and bytes, and the file's size.</summary>
    public sealed record Summary(string Path, IReadOnlyList<(GgmlType Type, int Count, long Bytes)> Types, long FileBytes);

    /// <summary>llama.cpp's <c>general.file_type</c> (llama_ftype) of a target type; the pure K type is nearest its _S mix.</summary>
    private static uint FileType(DType type) => type switch
    {
        DType.Q4_0 => 2, DType.Q8_0 => 7, DType.Q4_K => 14, DType.Q5_K => 16, DType.Q6_K => 18,
        _ => throw new EngineException($"engine quantize: no GGUF file type for {DTypes.SafetensorsName(type)}"),
    };

    /// <param name="modelPath">A model folder or GGUF file (as <see cref="Hub.ModelLocator"/> resolves it).</param>
    /// <param name="name">general.name (the model's name).</param>
    public static Summary Write(string modelPath, DType type, string outPath, string name)
    {
        var config = ModelConfigLoader.Load(modelPath);
        using var checkpoint = Checkpoint.Open(modelPath);
        return Write(config, checkpoint, modelPath, type, outPath, name);
    }

    /// <param name="tokenizerPath">The folder or GGUF file whose tokenizer and chat template go into the file; null for none (token ids only).</param>
    public static Summary Write(ModelConfig config, ICheckpoint checkpoint, string? tokenizerPath, DType type, string outPath, string name)
    {
        WeightSpec.Check(config, checkpoint);
        var writer = new GgufFileWriter();
        AddModelMetadata(writer, config, type, name);
        if (tokenizerPath is not null) GgufTokenizerMetadata.AddTo(writer, tokenizerPath, config);

        var types = new Dictionary<GgmlType, (int Count, long Bytes)>();
        void Count(GgmlType t, long bytes) => types[t] = types.TryGetValue(t, out var c) ? (c.Count + 1, c.Bytes + bytes) : (1, bytes);
        foreach (var expected in WeightSpec.For(config))
        {
            string ggufName = GgufTensorNames.FromHuggingFace(expected.Name);
            var source = checkpoint.Get(expected.Name);
            int[]? rowOrder = RowOrder(config, ggufName, expected.Shape[0]);
            long[] dims = expected.Shape.Reverse().ToArray();
            if (expected.Shape.Length == 1)
            {
                writer.AddTensor(ggufName, GgmlType.F32, dims, expected.ElementCount * sizeof(float),
                    stream => WriteFloat32(stream, checkpoint.Get(expected.Name), rowOrder));
                Count(GgmlType.F32, expected.ElementCount * sizeof(float));
                continue;
            }
            var stored = QuantizedCheckpoint.StoredType(source, type);
            long bytes = DTypes.ByteCount(stored, expected.ElementCount);
            writer.AddTensor(ggufName, GgufCheckpoint.GgmlTypeOf(stored), dims, bytes, stream =>
            {
                // One tensor quantized at a time: memory holds one matrix, not the model.
                using var quantized = new QuantizedCheckpoint(checkpoint, type);
                WriteRows(stream, quantized.Get(expected.Name), rowOrder);
            });
            Count(GgufCheckpoint.GgmlTypeOf(stored), bytes);
        }
        if (RopeFactors(config) is { } factors)
        {
            writer.AddTensor(GgufModelConfig.RopeFactorsTensor, GgmlType.F32, [factors.Length], factors.Length * sizeof(float),
                stream => stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(factors.AsSpan())));
            Count(GgmlType.F32, factors.Length * sizeof(float));
        }
        writer.Write(outPath);
        return new Summary(outPath, types.OrderBy(t => t.Key).Select(t => (t.Key, t.Value.Count, t.Value.Bytes)).ToList(), new FileInfo(outPath).Length);
    }

    private static void AddModelMetadata(GgufFileWriter writer, ModelConfig c, DType type, string name)
    {
        string arch = c.Architecture == ModelArchitecture.Qwen2 ? "qwen2" : "llama";
        writer.Add("general.architecture", arch);
        writer.Add("general.name", name);
        writer.Add("general.file_type", FileType(type));
        writer.Add("general.quantization_version", 2u);
        writer.Add("general.alignment", writer.Alignment);
        writer.Add($"{arch}.vocab_size", (uint)c.VocabSize);
        writer.Add($"{arch}.context_length", (uint)c.MaxPositionEmbeddings);
        writer.Add($"{arch}.embedding_length", (uint)c.HiddenSize);
        writer.Add($"{arch}.block_count", (uint)c.NumLayers);
        writer.Add($"{arch}.feed_forward_length", (uint)c.IntermediateSize);
        writer.Add($"{arch}.attention.head_count", (uint)c.NumHeads);
        writer.Add($"{arch}.attention.head_count_kv", (uint)c.NumKvHeads);
        writer.Add($"{arch}.attention.key_length", (uint)c.HeadDim);
        writer.Add($"{arch}.attention.value_length", (uint)c.HeadDim);
        writer.Add($"{arch}.rope.dimension_count", (uint)c.HeadDim);
        writer.Add($"{arch}.rope.freq_base", (float)c.RopeTheta);
        writer.Add($"{arch}.attention.layer_norm_rms_epsilon", (float)c.RmsNormEps);
        if (c.RopeScaling.Type == RopeScalingType.Linear)
        {
            writer.Add($"{arch}.rope.scaling.type", "linear");
            writer.Add($"{arch}.rope.scaling.factor", (float)c.RopeScaling.Factor);
        }
    }

    /// <summary>
    /// Llama 3 frequency scaling as llama.cpp's converter stores it: rope_freqs.weight, the divisor of each
    /// frequency (unscaled over scaled); factors a GGUF source already had are kept. Null without scaling.
    /// </summary>
    private static float[]? RopeFactors(ModelConfig c)
    {
        if (c.RopeFrequencyFactors is { } kept) return kept.ToArray();
        if (c.RopeScaling.Type != RopeScalingType.Llama3) return null;
        float[] plain = RopeFrequencies.Compute(c.HeadDim, c.RopeTheta, new RopeScaling(RopeScalingType.None));
        float[] scaled = RopeFrequencies.Compute(c.HeadDim, c.RopeTheta, c.RopeScaling);
        return plain.Select((f, j) => f / scaled[j]).ToArray();
    }

    /// <summary>
    /// The source row of each GGUF row: Llama's q/k (weights and biases) take the converter's permutation, GGUF
    /// row h*d + 2j + t from Hugging Face row h*d + t*d/2 + j; every other tensor keeps its order (null).
    /// </summary>
    private static int[]? RowOrder(ModelConfig c, string ggufName, long rows)
    {
        if (c.Architecture != ModelArchitecture.Llama || !GgufTensorNames.IsQueryOrKey(ggufName, out bool isKey)) return null;
        int heads = isKey ? c.NumKvHeads : c.NumHeads, d = (int)(rows / heads);
        var order = new int[rows];
        for (int h = 0; h < heads; h++)
            for (int j = 0; j < d / 2; j++)
                for (int t = 0; t < 2; t++)
                    order[h * d + 2 * j + t] = h * d + t * d / 2 + j;
        return order;
    }

    private static void WriteRows(Stream stream, TensorView view, int[]? rowOrder)
    {
        long rows = view.Shape[0], rowBytes = view.ByteLength / rows;
        if (rowOrder is null && view.ByteLength <= int.MaxValue)
        {
            stream.Write(view.Bytes);
            return;
        }
        for (long r = 0; r < rows; r++) stream.Write(view.Slice((rowOrder?[r] ?? r) * rowBytes, (int)rowBytes));
    }

    private static void WriteFloat32(Stream stream, TensorView view, int[]? order)
    {
        float[] values = view.ToFloat32Array();
        if (order is not null) values = order.Select(i => values[i]).ToArray();
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
    }
}
