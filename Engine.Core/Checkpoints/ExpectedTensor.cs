namespace Engine.Core.Checkpoints;

/// <summary>A tensor a model needs: its Hugging Face name and shape ([out, in] for linear weights).</summary>
public sealed record ExpectedTensor(string Name, long[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
