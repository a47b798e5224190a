using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Checkpoints.Gguf;
using Engine.Core.Config;
using Engine.Core.Text;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>A GGUF model's metadata against its tensors: what disagrees is one line naming the file and the GGUF tensor.</summary>
public class GgufCheckpointTests
{
    private TempFolder _temp = null!;
    private string _path = null!;

    [SetUp]
    public void SetUp()
    {
        _temp = new TempFolder();
        _path = _temp.File("tiny.gguf");
    }

    [TearDown] public void TearDown() => _temp.Dispose();

    /// <summary>A 1-layer Llama (hidden 8, 2 heads of 4, 1 KV head, ffn 16, vocab 4), its tensors filled with small numbers.</summary>
    private static GgufWriter TinyLlama(string architecture = "llama", Action<Dictionary<string, long[]>>? editDims = null, string? skip = null)
    {
        var w = new GgufWriter()
            .AddString("general.architecture", architecture)
            .AddUInt32($"{architecture}.block_count", 1).AddUInt32($"{architecture}.context_length", 64)
            .AddUInt32($"{architecture}.embedding_length", 8).AddUInt32($"{architecture}.feed_forward_length", 16)
            .AddUInt32($"{architecture}.attention.head_count", 2).AddUInt32($"{architecture}.attention.head_count_kv", 1)
            .Add($"{architecture}.attention.layer_norm_rms_epsilon", Engine.Core.Checkpoints.Gguf.GgufValueType.Float32, 1e-5f)
            .AddUInt32($"{architecture}.vocab_size", 4);
        var dims = new Dictionary<string, long[]>
        {
            ["token_embd.weight"] = [8, 4], ["output_norm.weight"] = [8],
            ["blk.0.attn_norm.weight"] = [8], ["blk.0.ffn_norm.weight"] = [8],
            ["blk.0.attn_q.weight"] = [8, 8], ["blk.0.attn_k.weight"] = [8, 4], ["blk.0.attn_v.weight"] = [8, 4], ["blk.0.attn_output.weight"] = [8, 8],
            ["blk.0.ffn_gate.weight"] = [8, 16], ["blk.0.ffn_up.weight"] = [8, 16], ["blk.0.ffn_down.weight"] = [16, 8],
        };
        editDims?.Invoke(dims);
        foreach (var (name, d) in dims)
            if (name != skip)
                w.AddF32(name, d, Enumerable.Range(0, (int)d.Aggregate(1L, (a, b) => a * b)).Select(i => 0.01f * (i % 7 + 1)).ToArray());
        return w;
    }

    private string OpenError(GgufWriter writer)
    {
        writer.Save(_path);
        var e = Assert.Throws<EngineException>(() => GgufCheckpoint.Open(_path).Dispose());
        Assert.That(e!.Message, Does.Not.Contain("\n"));
        Assert.That(e.Message, Does.StartWith(_path + ": "));
        return e.Message;
    }

    [Test]
    public void WellFormedTinyLlamaOpensWithTiedOutput()
    {
        TinyLlama().Save(_path);
        using var checkpoint = GgufCheckpoint.Open(_path);
        Assert.That(checkpoint.Config.TieWordEmbeddings, Is.True);
        Assert.That(checkpoint.Config.HeadDim, Is.EqualTo(4));
        Assert.That(checkpoint.Get(TensorNames.Weight(TensorNames.KProj(0))).Shape, Is.EqualTo(new long[] { 4, 8 }));
    }

    [Test]
    public void QueryRowsAreUnpermutedPerHead()
    {
        TinyLlama().Save(_path);
        using var file = GgufFile.Open(_path);
        file.TryGetTensor("blk.0.attn_q.weight", out var q);
        float[] raw = new float[64];
        GgufDequantizer.Dequantize(q.Type, file.Bytes(q), raw, "q");
        using var checkpoint = GgufCheckpoint.Open(_path);
        float[] hf = checkpoint.Get(TensorNames.Weight(TensorNames.QProj(0))).ToFloat32Array();
        // head_dim 4: GGUF rows (0, 1, 2, 3) of a head hold HF rows (0, 2, 1, 3).
        int[] hfRowOfGgufRow = [0, 2, 1, 3, 4, 6, 5, 7];
        for (int g = 0; g < 8; g++)
            Assert.That(hf.AsSpan(hfRowOfGgufRow[g] * 8, 8).ToArray(), Is.EqualTo(raw.AsSpan(g * 8, 8).ToArray()), $"GGUF row {g}");
    }

    [Test]
    public void ShapeThatDisagreesWithTheMetadata() =>
        Assert.That(OpenError(TinyLlama(editDims: d => d["blk.0.ffn_up.weight"] = [8, 12])),
            Does.Contain("tensor 'blk.0.ffn_up.weight' has shape [12, 8], but the metadata").And.EndWith("implies [16, 8]"));

    [Test]
    public void MissingTensor() =>
        Assert.That(OpenError(TinyLlama(skip: "blk.0.attn_v.weight")), Does.EndWith("tensor 'blk.0.attn_v.weight' is missing; the metadata (llama) implies shape [4, 8]"));

    [Test]
    public void UnsupportedArchitecture() =>
        Assert.That(OpenError(TinyLlama("gemma")), Does.EndWith("architecture gemma is not supported; supported: llama, qwen2"));

    [Test]
    public void UnsupportedTensorTypeIsNamed()
    {
        var writer = TinyLlama(skip: "blk.0.ffn_down.weight").AddTensor("blk.0.ffn_down.weight", [256, 8], (uint)GgmlType.Q2_K, new byte[84 * 8]);
        // ffn_down's rows of 256 disagree first; make the shapes right to reach the type check.
        Assert.That(OpenError(writer), Does.Contain("tensor 'blk.0.ffn_down.weight'"));
    }

    [Test]
    public void Qwen2HasQkvBiasesAndNoPermutation()
    {
        var writer = TinyLlama("qwen2")
            .AddF32("blk.0.attn_q.bias", [8], [1, 2, 3, 4, 5, 6, 7, 8]).AddF32("blk.0.attn_k.bias", [4], [1, 2, 3, 4]).AddF32("blk.0.attn_v.bias", [4], [1, 2, 3, 4]);
        writer.Save(_path);
        using var checkpoint = GgufCheckpoint.Open(_path);
        Assert.That(checkpoint.Config.Architecture, Is.EqualTo(ModelArchitecture.Qwen2));
        Assert.That(checkpoint.Config.QkvBias, Is.True);
        Assert.That(checkpoint.Get(TensorNames.Bias(TensorNames.QProj(0))).ToFloat32Array(), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
    }

    [Test]
    public void LlamaTokenizerFromMetadataDecodesIdsExactly()
    {
        var tokenizer = TextTokenizer.Load(GgufAssets.Path("stories260K-f32.gguf"));
        var hf = TextTokenizer.Load(SharedAssets.Require("models", "stories260K"));
        using var reference = GgufAssets.Json("stories260K-greedy200.json");
        int[] ids = reference.RootElement.GetProperty("files").GetProperty("stories260K-f32.gguf").GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.That(tokenizer.Decode(ids), Is.EqualTo(hf.Decode(ids)));
        Assert.That(tokenizer.BosId, Is.EqualTo(1));
        Assert.That(tokenizer.AddsBos, Is.True);
        Assert.That(tokenizer.EosIds, Is.EquivalentTo(new[] { 2 }));
        Assert.That(tokenizer.Encode("")[0], Is.EqualTo(1));
    }

    [Test]
    public void FolderHoldingOneGgufIsTheModel()
    {
        TinyLlama().Save(_path);
        Assert.That(GgufModelPath.Find(_temp.Path), Is.EqualTo(_path));
        using var checkpoint = Checkpoint.Open(_temp.Path);
        Assert.That(checkpoint, Is.InstanceOf<GgufCheckpoint>());
        TinyLlama().Save(_temp.File("other.gguf"));
        var e = Assert.Throws<EngineException>(() => GgufModelPath.Find(_temp.Path));
        Assert.That(e!.Message, Does.Contain("holds 2 GGUF files (other.gguf, tiny.gguf); pass one of them as --model"));
    }
}

/// <summary>rope_freqs.weight (Llama 3.1 scaling as llama.cpp's converter writes it) divides the RoPE frequencies.</summary>
public class GgufRopeFactorTests
{
    [Test]
    public void RopeFactorsDivideTheFrequencies()
    {
        using var temp = new TempFolder();
        string path = temp.File("rope.gguf");
        var writer = new GgufWriter()
            .AddString("general.architecture", "llama")
            .AddUInt32("llama.block_count", 1).AddUInt32("llama.context_length", 64)
            .AddUInt32("llama.embedding_length", 8).AddUInt32("llama.feed_forward_length", 32)
            .AddUInt32("llama.attention.head_count", 2).AddUInt32("llama.vocab_size", 4)
            .Add("llama.attention.layer_norm_rms_epsilon", GgufValueType.Float32, 1e-5f)
            .AddF32("rope_freqs.weight", [2], [1f, 8f]);
        writer.Save(path);
        using var file = GgufFile.Open(path);
        var config = GgufModelConfig.Read(file);
        Assert.That(config.RopeFrequencyFactors, Is.EqualTo(new[] { 1f, 8f }));
        float[] plain = RopeFrequencies.Compute(config with { RopeFrequencyFactors = null });
        Assert.That(RopeFrequencies.Compute(config), Is.EqualTo(new[] { plain[0], plain[1] / 8f }));
    }
}

/// <summary>A gpt2 (byte-level BPE) vocabulary from GGUF metadata: merges, control tokens, the pre-tokenizer named by tokenizer.ggml.pre.</summary>
public class GgufByteLevelTokenizerTests
{
    [Test]
    public void EncodesWithMergesAndSpecialTokens()
    {
        using var temp = new TempFolder();
        string path = temp.File("vocab.gguf");
        // "Ġ" is GPT-2's byte-level character for a space.
        string[] tokens = ["a", "b", "Ġ", "ab", "Ġab", "<|im_start|>"];
        new GgufWriter()
            .AddString("tokenizer.ggml.model", "gpt2").AddString("tokenizer.ggml.pre", "qwen2")
            .Add("tokenizer.ggml.tokens", GgufValueType.Array, new GgufArray(GgufValueType.String, tokens))
            .Add("tokenizer.ggml.token_type", GgufValueType.Array, new GgufArray(GgufValueType.Int32, new[] { 1, 1, 1, 1, 1, 3 }))
            .Add("tokenizer.ggml.merges", GgufValueType.Array, new GgufArray(GgufValueType.String, new[] { "a b", "Ġ ab" }))
            .Add("tokenizer.ggml.eos_token_id", GgufValueType.UInt32, 5u)
            .Add("tokenizer.ggml.add_bos_token", GgufValueType.Bool, false)
            .Save(path);
        using var file = GgufFile.Open(path);
        var tokenizer = TextTokenizer.FromGguf(file.Metadata);
        Assert.That(tokenizer.Encode("<|im_start|>ab ab"), Is.EqualTo(new[] { 5, 3, 4 }));
        Assert.That(tokenizer.Decode([3, 4]), Is.EqualTo("ab ab"));
        Assert.That(tokenizer.EosIds, Is.EquivalentTo(new[] { 5 }));
        Assert.That(tokenizer.AddsBos, Is.False);
    }

    [Test]
    public void UnknownPreTokenizerIsNamed()
    {
        using var temp = new TempFolder();
        string path = temp.File("vocab.gguf");
        new GgufWriter()
            .AddString("tokenizer.ggml.model", "gpt2").AddString("tokenizer.ggml.pre", "deepseek-coder")
            .Add("tokenizer.ggml.tokens", GgufValueType.Array, new GgufArray(GgufValueType.String, new[] { "a" }))
            .Add("tokenizer.ggml.merges", GgufValueType.Array, new GgufArray(GgufValueType.String, System.Array.Empty<string>()))
            .Save(path);
        using var file = GgufFile.Open(path);
        var e = Assert.Throws<EngineException>(() => TextTokenizer.FromGguf(file.Metadata));
        Assert.That(e!.Message, Does.Contain("pre-tokenizer tokenizer.ggml.pre = deepseek-coder is not supported"));
    }
}
