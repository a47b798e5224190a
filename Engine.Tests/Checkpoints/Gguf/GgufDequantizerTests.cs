using System.Text.Json;
using Engine.Core;
using Engine.Core.Checkpoints.Gguf;
using Engine.Tests.Support;
using NUnit.Framework;

namespace Engine.Tests.Checkpoints.Gguf;

/// <summary>
/// Every dequantizer against the tensors gguf-py dequantized from the same files: equal bit for bit.
/// (The assets allow K-quants 1e-6 relative because gguf-py may order its scale products differently;
/// the engine follows ggml's C order and checks how far it is from gguf-py's.)
/// </summary>
public class GgufDequantizerTests
{
    public static IEnumerable<TestCaseData> ReferenceTensors()
    {
        if (Engine.Tests.Support.SharedAssets.Root is not string root || !File.Exists(System.IO.Path.Combine(root, "gguf", "dequant", "index.json")))
        {
            yield return new TestCaseData("", "", "", "").SetName("ReferenceTensors(assets absent)");
            yield break;
        }
        using var index = JsonDocument.Parse(File.ReadAllBytes(System.IO.Path.Combine(root, "gguf", "dequant", "index.json")));
        foreach (var file in index.RootElement.EnumerateObject())
            foreach (var tensor in file.Value.EnumerateObject())
                yield return new TestCaseData(file.Name, tensor.Name, tensor.Value.GetProperty("type").GetString(), tensor.Value.GetProperty("npy").GetString())
                    .SetName($"Dequantize({file.Name}, {tensor.Name}, {tensor.Value.GetProperty("type").GetString()})");
    }

    [TestCaseSource(nameof(ReferenceTensors))]
    public void Dequantize(string fileName, string tensorName, string type, string npy)
    {
        if (fileName == "") Assert.Ignore("../shared/assets/gguf/dequant not found");
        using var file = GgufFile.Open(GgufAssets.Path(fileName));
        Assert.That(file.TryGetTensor(tensorName, out var tensor));
        Assert.That(tensor.Type.ToString(), Is.EqualTo(type));
        var reference = Engine.Tests.LagKv.NpyReader.ReadFloat32(SharedAssets.Require("gguf", npy));
        Assert.That(reference.Shape.Select(d => (long)d), Is.EqualTo(tensor.Shape));

        var actual = new float[tensor.ElementCount];
        GgufDequantizer.Dequantize(tensor.Type, file.Bytes(tensor), actual, tensorName);
        int different = 0;
        for (int i = 0; i < actual.Length; i++)
            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(reference.Data[i])) different++;
        Assert.That(different, Is.Zero, $"{different} of {actual.Length} elements differ from gguf-py's");
    }

    [Test]
    public void UnsupportedTypeIsNamed()
    {
        var e = Assert.Throws<EngineException>(() => GgufDequantizer.Dequantize(GgmlType.Q2_K, new byte[84], new float[256], "tensor 'x'"));
        Assert.That(e!.Message, Is.EqualTo($"tensor 'x' has tensor type Q2_K, which the engine does not support; supported: {GgmlTypes.SupportedList}"));
    }
}
