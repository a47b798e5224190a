using Engine.Core;
using Engine.Core.Checkpoints;
using Engine.Core.Config;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Config;

public class ModelInfoTests
{
    private const string Qwen2Config = "{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 16, \"intermediate_size\": 24,"
        + " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"vocab_size\": 10,"
        + " \"torch_dtype\": \"bfloat16\", \"eos_token_id\": 3}";

    [Test]
    public void ShardedMixedDtypeModelWithLinkedFiles()
    {
        using var temp = new TempFolder();
        var config = ModelConfigLoader.Parse(Qwen2Config, "config.json");
        var writer = new SafetensorsWriter();
        long expectedBytes = 0;
        int seed = 0;
        foreach (var t in WeightSpec.For(config))
        {
            // Norms in f32, everything else in bf16, as some exports do.
            DType dtype = t.Shape.Length == 1 && !t.Name.EndsWith(".bias") ? DType.F32 : DType.BF16;
            writer.Add(t.Name, t.Shape, SafetensorsWriter.RandomValues((int)t.ElementCount, ++seed), dtype);
            expectedBytes += t.ElementCount * DTypes.SizeOf(dtype);
        }
        // The Hugging Face cache links snapshot files to blobs: sizes must be the blobs'.
        string blobs = Path.Combine(temp.Path, "blobs");
        string snapshot = Path.Combine(temp.Path, "snapshot");
        var shards = writer.SaveSharded(blobs, 3);
        Directory.CreateDirectory(snapshot);
        foreach (string file in Directory.GetFiles(blobs))
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), file);
        File.WriteAllText(Path.Combine(snapshot, "config.json"), Qwen2Config);
        File.WriteAllText(Path.Combine(snapshot, "generation_config.json"), "{\"do_sample\": true, \"top_p\": 0.8, \"eos_token_id\": [4, 3]}");

        var info = ModelInfo.Inspect(snapshot);
        Assert.That(info.Config.Architecture, Is.EqualTo(ModelArchitecture.Qwen2));
        Assert.That(info.WeightBytes, Is.EqualTo(expectedBytes));
        Assert.That(info.ParameterCount, Is.EqualTo(WeightSpec.For(config).Sum(t => t.ElementCount)));
        Assert.That(info.WeightDTypes, Is.EqualTo(new[] { DType.F32, DType.BF16 }));
        Assert.That(info.KvBytesPerToken(DType.BF16), Is.EqualTo(2 * 2 * 2 * 4 * 2));
        Assert.That(info.Generation.EosTokenIds, Is.EqualTo(new[] { 4, 3 }));
        Assert.That(info.Generation.IsGreedy, Is.False);
        var sizes = info.Files.ToDictionary(f => f.Name, f => f.Bytes);
        foreach (string shard in shards)
            Assert.That(sizes[Path.GetFileName(shard)], Is.EqualTo(new FileInfo(shard).Length));
        Assert.That(sizes.Keys, Does.Contain(ShardedCheckpoint.IndexFileName));
    }
}
