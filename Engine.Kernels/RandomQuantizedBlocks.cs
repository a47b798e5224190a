using System.Buffers.Binary;
using Engine.Core;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Kernels;

/// <summary>
/// Random valid blocks of a block-quantized dtype for kernel checks (the self-check, `engine selftest`, tests):
/// every quant, scale and min byte random, and the f16 super-scales drawn from a range per type that keeps
/// weights within about +-3 (random f16 bits could be NaN or huge).
/// </summary>
public static class RandomQuantizedBlocks
{
    public static byte[] Create(DType type, long elements, Random random)
    {
        var (block, blockBytes) = DTypes.BlockLayout(type);
        var data = new byte[DTypes.ByteCount(type, elements)];
        random.NextBytes(data);
        for (int start = 0; start < data.Length; start += blockBytes)
        {
            var b = data.AsSpan(start, blockBytes);
            switch (type)
            {
                case DType.Q8_0: Scale(b, 0, 0.002, 0.01, random); break; // |q| <= 127
                case DType.Q4_0: Scale(b, 0, 0.05, 0.15, random); break; // |q - 8| <= 8
                case DType.Q5_0: Scale(b, 0, 0.02, 0.07, random); break; // |q - 16| <= 16
                case DType.Q4_K: Scale(b, 0, 0.001, 0.003, random); Scale(b, 2, 0.001, 0.003, random); break; // sc, m <= 63, q <= 15
                case DType.Q5_K: Scale(b, 0, 0.0005, 0.0015, random); Scale(b, 2, 0.0005, 0.0015, random); break; // q <= 31
                case DType.Q6_K: Scale(b, 208, 0.0002, 0.0006, random); break; // |sc| <= 128, |q - 32| <= 32
                default: throw new ArgumentException($"{type} is not a block-quantized dtype", nameof(type));
            }
        }
        return data;
    }

    /// <summary>The blocks' weights as ggml dequantizes them.</summary>
    public static float[] Dequantize(DType type, byte[] blocks, long elements)
    {
        var values = new float[elements];
        GgufDequantizer.Dequantize(GgufCheckpoint.GgmlTypeOf(type), blocks, values, $"random {type} blocks");
        return values;
    }

    private static void Scale(Span<byte> block, int offset, double low, double high, Random random) =>
        BinaryPrimitives.WriteUInt16LittleEndian(block[offset..], BitConverter.HalfToUInt16Bits((Half)(low + (high - low) * random.NextDouble())));
}
