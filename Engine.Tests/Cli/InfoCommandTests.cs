using System.Text.Json;
using Engine.Cli;
using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Tests.Support;
using NUnit.Framework;
using static Engine.Tests.Support.CliRunner;

namespace Engine.Tests.Cli;

public class InfoCommandTests
{
    /// <summary>Every GGUF asset (each supported type, llama.cpp's fallbacks included): info's counts are the file's tensor table.</summary>
    [TestCaseSource(typeof(Checkpoints.Gguf.GgufAssets), nameof(Checkpoints.Gguf.GgufAssets.Files))]
    public void GgufTensorTypesCountTheWholeTensorTable(string name)
    {
        var (code, output, error) = Run("info", "--model", Checkpoints.Gguf.GgufAssets.Path(name), "--json");
        Assert.That(code, Is.Zero, error);
        var types = JsonDocument.Parse(output).RootElement.GetProperty("tensor_types").EnumerateArray()
            .ToDictionary(t => t.GetProperty("type").GetString()!, t => (Count: t.GetProperty("count").GetInt32(), Bytes: t.GetProperty("bytes").GetInt64()));
        using var expected = Checkpoints.Gguf.GgufAssets.Json("tensor-types.json");
        var counts = expected.RootElement.GetProperty(name).GetProperty("counts").EnumerateObject().ToDictionary(c => c.Name, c => c.Value.GetInt32());
        Assert.That(types.ToDictionary(t => t.Key, t => t.Value.Count), Is.EquivalentTo(counts));
        using var file = Core.Checkpoints.Gguf.GgufFile.Open(Checkpoints.Gguf.GgufAssets.Path(name));
        Assert.That(types.Values.Sum(t => t.Bytes), Is.EqualTo(file.Tensors.Sum(t => t.ByteLength)));
    }

    [Test]
    public void TextOnStories260K()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var (code, output, error) = Run("info", "--model", folder);
        Assert.That(code, Is.EqualTo(0), error);
        Assert.That(error, Is.Empty);
        // 2 x 5 layers x 4 KV heads x head_dim 8 x 4 bytes (f32 model, f32 KV by default).
        Assert.That(output, Does.Contain("kv bytes/token     1,280 B (1.3 KiB) at F32"));
        Assert.That(output, Does.Contain("architecture       LlamaForCausalLM"));
        Assert.That(output, Does.Contain("context length     512"));
        Assert.That(output, Does.Contain("8 query, 4 key/value (GQA, 2 per group), head_dim 8"));
        Assert.That(output, Does.Contain("tied embeddings    yes"));
        long parameters = WeightSpec.ParameterCount(ModelConfigLoader.Load(folder));
        Assert.That(output, Does.Contain($"parameters         {parameters:N0}"));
        Assert.That(output, Does.Contain($"model.safetensors        {new FileInfo(Path.Combine(folder, "model.safetensors")).Length:N0} B"));
    }

    [Test]
    public void JsonOnStories260K()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var (code, output, error) = Run("info", "--model", folder, "--json", "--kv-dtype", "bf16");
        Assert.That(code, Is.EqualTo(0), error);
        using var json = JsonDocument.Parse(output);
        JsonKeys.AssertSnakeCase(json.RootElement);
        var root = json.RootElement;
        Assert.That(root.GetProperty("architecture").GetString(), Is.EqualTo("LlamaForCausalLM"));
        Assert.That(root.GetProperty("layers").GetInt32(), Is.EqualTo(5));
        Assert.That(root.GetProperty("num_key_value_heads").GetInt32(), Is.EqualTo(4));
        Assert.That(root.GetProperty("kv_bytes_per_token").GetInt64(), Is.EqualTo(2 * 5 * 4 * 8 * 2));
        Assert.That(root.GetProperty("dtype").GetString(), Is.EqualTo("float32"));
        // Every tensor is F32 and used (tied: no lm_head), so the weight bytes are the file's data section.
        using var checkpoint = Checkpoint.Open(folder);
        long stored = checkpoint.TensorNames.Sum(n => checkpoint.Get(n).ByteLength);
        Assert.That(root.GetProperty("weight_bytes").GetInt64(), Is.EqualTo(stored));
        Assert.That(root.GetProperty("parameters").GetInt64(), Is.EqualTo(stored / 4));
        Assert.That(root.GetProperty("eos_token_ids").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(new[] { 2 }));
        var files = root.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToList();
        Assert.That(files, Does.Contain("model.safetensors").And.Contain("config.json"));
    }

    [Test]
    public void MissingModelIsOneLineOnStderr()
    {
        var (code, output, error) = Run("info", "--model", Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid()));
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Is.Empty);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.StartWith("error: model '").And.Contain("not found"));
    }

    [Test]
    public void MismatchedCheckpointIsOneLineOnStderr()
    {
        using var temp = new TempFolder();
        File.WriteAllText(temp.File("config.json"), "{\"model_type\": \"llama\", \"hidden_size\": 8, \"intermediate_size\": 16,"
            + " \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"vocab_size\": 4}");
        new SafetensorsWriter().Add(TensorNames.Embedding, [4, 8], SafetensorsWriter.RandomValues(32, 1)).Save(temp.File("model.safetensors"));
        var (code, output, error) = Run("info", "--model", temp.Path);
        Assert.That(code, Is.EqualTo(1));
        Assert.That(output, Is.Empty);
        Assert.That(error.TrimEnd().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(error, Does.StartWith("error: checkpoint does not match config.json: tensor 'model.layers.0.input_layernorm.weight' is missing"));
    }

    [Test]
    public void BadKvDType()
    {
        string folder = SharedAssets.Require("models", "stories260K");
        var (code, _, error) = Run("info", "--model", folder, "--kv-dtype", "int4");
        Assert.That(code, Is.EqualTo(1));
        Assert.That(error.Trim(), Is.EqualTo("error: --kv-dtype 'int4' is not one of f32, f16, bf16"));
    }
}
