using System.Runtime.InteropServices;
using Engine.Core.Config;

namespace Engine.Core.Checkpoints;

/// <summary>
/// An in-memory checkpoint of deterministic random weights for a <see cref="ModelConfig"/>: exactly the
/// tensors <see cref="WeightSpec.For"/> lists, in one dtype, for benchmarks that need a model's shapes but
/// not its values (`engine bench --random-weights`). Projections and embeddings are uniform with standard
/// deviation <see cref="WeightScale"/>; norm weights scatter around 1. Each value is a hash of (seed,
/// tensor, element), so the contents do not depend on the thread count. Native memory, freed on Dispose.
/// </summary>
public sealed unsafe class RandomCheckpoint : ICheckpoint
{
    /// <summary>Standard deviation of projection, embedding and bias values (typical of trained LLM weights).</summary>
    public const float WeightScale = 0.02f;
    private const int ChunkElements = 1 << 20;

    private readonly Dictionary<string, TensorView> _tensors = new(StringComparer.Ordinal);
    private readonly List<nint> _blocks = [];
    private readonly string _origin;
    private bool _disposed;

    public RandomCheckpoint(ModelConfig config, DType dtype, ulong seed = 0)
    {
        if (dtype is not (DType.F32 or DType.F16 or DType.BF16)) throw new EngineException($"random weights must be f32, f16 or bf16, not {dtype}");
        DType = dtype;
        _origin = $"random weights (seed {seed})";
        try
        {
            var spec = WeightSpec.For(config);
            for (int t = 0; t < spec.Count; t++)
            {
                var expected = spec[t];
                long count = expected.ElementCount, bytes = count * DTypes.SizeOf(dtype);
                byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64);
                _blocks.Add((nint)data);
                bool isNorm = expected.Shape.Length == 1 && expected.Name.EndsWith("norm.weight", StringComparison.Ordinal);
                Fill(data, count, dtype, isNorm ? 1f : 0f, seed * 0x9E37_79B9_7F4A_7C15UL + (ulong)t);
                _tensors[expected.Name] = new TensorView(expected.Name, _origin, dtype, expected.Shape, data, bytes);
                TotalBytes += bytes;
            }
        }
        catch (OutOfMemoryException)
        {
            Dispose();
            throw new EngineException($"out of host memory creating random {DTypes.SafetensorsName(dtype)} weights");
        }
    }

    /// <summary>The dtype every tensor is stored in.</summary>
    public DType DType { get; }
    /// <summary>Bytes of all tensors together.</summary>
    public long TotalBytes { get; }

    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;

    public bool TryGet(string name, out TensorView tensor)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _tensors.TryGetValue(name, out tensor);
    }

    public TensorView Get(string name) => TryGet(name, out var tensor)
        ? tensor
        : throw new EngineException($"tensor {name} is not part of the model ({_origin})");

    /// <summary>value = center + uniform(-1, 1) * sqrt(3) * scale (standard deviation = scale), per element hash.</summary>
    private static void Fill(byte* data, long count, DType dtype, float center, ulong tensorSeed)
    {
        long chunks = (count + ChunkElements - 1) / ChunkElements;
        float halfWidth = WeightScale * MathF.Sqrt(3f);
        Parallel.For(0L, chunks, chunk =>
        {
            long start = chunk * ChunkElements, end = Math.Min(count, start + ChunkElements);
            for (long i = start; i < end; i++)
            {
                ulong bits = Mix(tensorSeed ^ ((ulong)i * 0xD1B5_4A32_D192_ED03UL));
                float unit = (bits >> 40) * (1f / (1 << 24)) * 2f - 1f;
                float value = center + unit * halfWidth;
                if (value == 0f) value = halfWidth / 2;
                switch (dtype)
                {
                    case DType.F32: ((float*)data)[i] = value; break;
                    case DType.BF16: ((ushort*)data)[i] = BFloat16.FromFloat(value); break;
                    default: ((Half*)data)[i] = (Half)value; break;
                }
            }
        });
    }

    /// <summary>SplitMix64's finalizer: a fast, well-distributed 64-bit hash.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E37_79B9_7F4A_7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return z ^ (z >> 31);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (nint block in _blocks) NativeMemory.AlignedFree((void*)block);
        _blocks.Clear();
        _tensors.Clear();
    }
}
