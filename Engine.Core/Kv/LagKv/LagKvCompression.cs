namespace Engine.Core.Kv.LagKv;

/// <summary>
/// One compression of a layer's uncompressed window, in slots. Partitions
/// [<see cref="FirstPartition"/>, FirstPartition + <see cref="Partitions"/>) of the fixed grid start at
/// slot <see cref="WindowStart"/>; each is scored against its successor and reduced to
/// <see cref="Keep"/> tokens written from WindowStart on; the <see cref="TailLength"/> slots after
/// them (the last complete partition plus the incomplete one) move down behind the kept tokens.
/// </summary>
public readonly record struct LagKvCompression(
    int WindowStart,
    int FirstPartition,
    int Partitions,
    int LagSize,
    int Keep,
    int TailLength)
{
    /// <summary>The layer's slots before the compression.</summary>
    public int LengthBefore => WindowStart + Partitions * LagSize + TailLength;
    /// <summary>The layer's slots after it.</summary>
    public int LengthAfter => WindowStart + Partitions * Keep + TailLength;
    /// <summary>First slot of the uncompressed tail before the move.</summary>
    public int TailSource => WindowStart + Partitions * LagSize;
    /// <summary>Where the tail lands.</summary>
    public int TailDestination => WindowStart + Partitions * Keep;
}
