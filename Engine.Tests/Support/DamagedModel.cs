using System.Runtime.InteropServices;
using Engine.Core;
using Engine.Core.Checkpoints;

namespace Engine.Tests.Support;

/// <summary>
/// A copy of stories260K (config, tokenizer, generation config) in a temp folder whose weights are the
/// real ones with one tensor changed, e.g. a norm set to NaN (a damaged checkpoint) or to a huge finite
/// value (logits that overflow at run time).
/// </summary>
public sealed class DamagedModel : IDisposable
{
    private readonly TempFolder _folder = new();

    /// <param name="tensor">The tensor to change.</param>
    /// <param name="value">The value every element of it gets.</param>
    public DamagedModel(string tensor, float value)
    {
        string stories = SharedAssets.Require("models", "stories260K");
        foreach (string file in new[] { "config.json", "tokenizer.json", "generation_config.json" })
            File.Copy(Path.Combine(stories, file), _folder.File(file));
        using var checkpoint = Checkpoint.Open(stories);
        var writer = new SafetensorsWriter();
        foreach (string name in checkpoint.TensorNames.Order(StringComparer.Ordinal))
        {
            checkpoint.TryGet(name, out var view);
            float[] values = MemoryMarshal.Cast<byte, float>(view.Bytes).ToArray();
            if (name == tensor) Array.Fill(values, value);
            writer.Add(name, view.Shape, values, DType.F32);
        }
        writer.Save(_folder.File("model.safetensors"));
    }

    public string Folder => _folder.Path;

    public void Dispose() => _folder.Dispose();
}
