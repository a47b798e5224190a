using Engine.Core;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Tests.Ops;

/// <summary>Random blocks of a block-quantized dtype (every bit random but the f16 scales, kept in a sane range) and their exact values.</summary>
public static class RandomBlocks
{
    public static (byte[] Bytes, double[] Values) Create(DType type, int elements, Random rng)
    {
        var (block, blockBytes) = DTypes.BlockLayout(type);
        var bytes = new byte[elements / block * blockBytes];
        rng.NextBytes(bytes);
        for (int b = 0; b < elements / block; b++)
        {
            var span = bytes.AsSpan(b * blockBytes, blockBytes);
            switch (type)
            {
                case DType.Q4_K or DType.Q5_K:
                    WriteHalf(span, 0.001 + 0.004 * rng.NextDouble()); // d: times 6-bit scales
                    WriteHalf(span[2..], 0.001 + 0.004 * rng.NextDouble()); // dmin: times 6-bit mins
                    break;
                case DType.Q6_K:
                    WriteHalf(span[208..], 0.0001 + 0.0004 * rng.NextDouble()); // times int8 scales and q - 32
                    break;
                default:
                    WriteHalf(span, 0.01 + 0.04 * rng.NextDouble());
                    break;
            }
        }
        var floats = new float[elements];
        GgufDequantizer.Dequantize(GgufCheckpoint.GgmlTypeOf(type), bytes, floats, "random blocks");
        return (bytes, floats.Select(v => (double)v).ToArray());
    }

    private static void WriteHalf(Span<byte> span, double value) =>
        BitConverter.TryWriteBytes(span, BitConverter.HalfToUInt16Bits((Half)value));
}
