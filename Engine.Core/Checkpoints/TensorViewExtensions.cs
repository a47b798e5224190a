using System.Buffers.Binary;

namespace Engine.Core.Checkpoints;

/// <summary>Widening reads of tensor views into float32 (for host references, tests and CPU uploads).</summary>
public static class TensorViewExtensions
{
    /// <summary>Widens elements [start, start + destination.Length) of <paramref name="tensor"/> into <paramref name="destination"/>.</summary>
    public static void ReadFloat32(this TensorView tensor, long start, Span<float> destination)
    {
        if (DTypes.IsBlockQuantized(tensor.DType))
        {
            ReadBlocks(tensor, start, destination);
            return;
        }
        int size = DTypes.SizeOf(tensor.DType);
        if (start < 0 || start + destination.Length > tensor.ElementCount)
            throw new ArgumentOutOfRangeException(nameof(start), $"elements [{start}, {start + destination.Length}) outside tensor {tensor.Name} of {tensor.ElementCount}");
        // Chunks keep each byte slice under int.MaxValue whatever the tensor's size.
        const int chunk = 1 << 20;
        for (int done = 0; done < destination.Length; done += chunk)
        {
            var part = destination.Slice(done, Math.Min(chunk, destination.Length - done));
            Widen(tensor, tensor.Slice((start + done) * size, part.Length * size), part);
        }
    }

    /// <summary>Dequantizes whole blocks (start and length multiples of the block size) as ggml does.</summary>
    private static void ReadBlocks(TensorView tensor, long start, Span<float> destination)
    {
        var (block, blockBytes) = DTypes.BlockLayout(tensor.DType);
        if (start < 0 || start + destination.Length > tensor.ElementCount || start % block != 0 || destination.Length % block != 0)
            throw new ArgumentOutOfRangeException(nameof(start), $"elements [{start}, {start + destination.Length}) are not whole {tensor.DType} blocks of tensor {tensor.Name}");
        var type = Gguf.GgufCheckpoint.GgmlTypeOf(tensor.DType);
        const int chunk = 1 << 20; // a multiple of every block size
        for (int done = 0; done < destination.Length; done += chunk)
        {
            var part = destination.Slice(done, Math.Min(chunk, destination.Length - done));
            Gguf.GgufDequantizer.Dequantize(type, tensor.Slice((start + done) / block * blockBytes, part.Length / block * blockBytes), part, tensor.Name);
        }
    }

    private static void Widen(TensorView tensor, ReadOnlySpan<byte> bytes, Span<float> destination)
    {
        switch (tensor.DType)
        {
            case DType.F32:
                for (int i = 0; i < destination.Length; i++) destination[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(i * 4)..]);
                break;
            case DType.F16:
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(i * 2)..]);
                break;
            case DType.BF16:
                for (int i = 0; i < destination.Length; i++) destination[i] = BFloat16.ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(i * 2)..]));
                break;
            default:
                throw new EngineException($"tensor {tensor.Name} in {tensor.File} has dtype {tensor.DType}, not a float type");
        }
    }

    /// <summary>The whole tensor widened to float32 (a copy).</summary>
    public static float[] ToFloat32Array(this TensorView tensor)
    {
        if (tensor.ElementCount > Array.MaxLength)
            throw new EngineException($"tensor {tensor.Name} in {tensor.File} has too many elements for one array");
        var result = new float[tensor.ElementCount];
        tensor.ReadFloat32(0, result);
        return result;
    }
}
