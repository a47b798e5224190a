using System.Diagnostics;
using Engine.Core;

namespace Engine.Kernels;

/// <summary>One timed linear shape: median time per call and what it achieved.</summary>
public sealed record LinearTiming(string Name, int Rows, int InDim, int OutDim, DType WeightType, double MedianMs)
{
    public long WeightBytes => (long)InDim * OutDim * DTypes.SizeOf(WeightType);
    /// <summary>Weight bytes streamed per second: the figure of merit for decode (rows == 1).</summary>
    public double WeightGbps => WeightBytes / (MedianMs / 1e3) / 1e9;
    /// <summary>Useful floating-point work per second: the figure of merit for prefill.</summary>
    public double Gflops => 2.0 * Rows * InDim * OutDim / (MedianMs / 1e3) / 1e9;
}

/// <summary>
/// Times <see cref="IBackend.Linear"/> on a model's projection shapes with random weights, for tuning the
/// kernels by hand (decode matrix-vector products and a prefill batch). Not a test: it asserts nothing.
/// </summary>
public static class LinearMicrobenchmark
{
    /// <summary>Qwen2.5-0.5B's projections: (name, inDim, outDim).</summary>
    public static readonly (string Name, int InDim, int OutDim)[] Qwen25HalfBShapes =
    [
        ("q_proj", 896, 896), ("k_proj", 896, 128), ("o_proj", 896, 896),
        ("gate_proj", 896, 4864), ("down_proj", 4864, 896), ("lm_head", 896, 151936),
    ];

    public static IReadOnlyList<LinearTiming> Run(IBackend backend, IEnumerable<(string Name, int InDim, int OutDim)> shapes,
        DType weightType, int rows, int repetitions, Action<LinearTiming>? progress = null)
    {
        var results = new List<LinearTiming>();
        var rng = new Random(1234);
        foreach (var (name, inDim, outDim) in shapes)
        {
            using var weight = backend.Allocate(weightType, (long)inDim * outDim);
            FillRandom(backend, weight, rng);
            using var x = backend.Allocate(DType.F32, (long)rows * inDim);
            FillRandom(backend, x, rng);
            using var output = backend.Allocate(DType.F32, (long)rows * outDim);
            backend.Linear(x, weight, null, output, rows, inDim, outDim);
            backend.Synchronize();
            var ms = new double[repetitions];
            for (int r = 0; r < repetitions; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                backend.Linear(x, weight, null, output, rows, inDim, outDim);
                backend.Synchronize();
                ms[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            Array.Sort(ms);
            var timing = new LinearTiming(name, rows, inDim, outDim, weightType, ms[repetitions / 2]);
            progress?.Invoke(timing);
            results.Add(timing);
        }
        return results;
    }

    /// <summary>
    /// Decode as the model does it: one matrix-vector product per projection of every layer in turn, then
    /// the LM head, so the weights stream from memory rather than sit in cache. Returns the median
    /// milliseconds per "token" and the bytes of weights it read.
    /// </summary>
    public static (double MedianMs, long WeightBytes) RunDecodeSweep(IBackend backend, int layers, int hidden, int intermediate,
        int qDim, int kvDim, int vocab, DType weightType, int repetitions)
    {
        var rng = new Random(99);
        var shapes = new List<(int In, int Out)>();
        for (int l = 0; l < layers; l++)
            shapes.AddRange([(hidden, qDim), (hidden, kvDim), (hidden, kvDim), (qDim, hidden), (hidden, intermediate), (hidden, intermediate), (intermediate, hidden)]);
        shapes.Add((hidden, vocab));
        var weights = new List<DeviceArray>();
        try
        {
            foreach (var (inDim, outDim) in shapes)
            {
                var w = backend.Allocate(weightType, (long)inDim * outDim);
                weights.Add(w);
                FillRandom(backend, w, rng);
            }
            int widest = Math.Max(Math.Max(hidden, intermediate), Math.Max(qDim, vocab));
            using var x = backend.Allocate(DType.F32, widest);
            FillRandom(backend, x, rng);
            using var output = backend.Allocate(DType.F32, widest);
            void Token()
            {
                for (int i = 0; i < shapes.Count; i++) backend.Linear(x, weights[i], null, output, 1, shapes[i].In, shapes[i].Out);
                backend.Synchronize();
            }
            Token();
            var ms = new double[repetitions];
            for (int r = 0; r < repetitions; r++)
            {
                long t0 = Stopwatch.GetTimestamp();
                Token();
                ms[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            }
            Array.Sort(ms);
            return (ms[repetitions / 2], weights.Sum(w => w.ByteLength));
        }
        finally
        {
            foreach (var w in weights) w.Dispose();
        }
    }

    /// <summary>Uniform values in [-0.05, 0.05), uploaded in slices of at most 1M elements.</summary>
    private static void FillRandom(IBackend backend, DeviceArray array, Random rng)
    {
        const int Slice = 1 << 20;
        var floats = new float[Slice];
        var halves = new ushort[Slice];
        for (long offset = 0; offset < array.Length; offset += Slice)
        {
            int n = (int)Math.Min(Slice, array.Length - offset);
            for (int i = 0; i < n; i++) floats[i] = (float)(rng.NextDouble() - 0.5) * 0.1f;
            switch (array.DType)
            {
                case DType.F32: backend.Upload<float>(array, floats.AsSpan(0, n), offset); break;
                case DType.BF16:
                    for (int i = 0; i < n; i++) halves[i] = BFloat16.FromFloat(floats[i]);
                    backend.Upload<ushort>(array, halves.AsSpan(0, n), offset);
                    break;
                case DType.F16:
                    for (int i = 0; i < n; i++) halves[i] = BitConverter.HalfToUInt16Bits((Half)floats[i]);
                    backend.Upload<ushort>(array, halves.AsSpan(0, n), offset);
                    break;
                default: throw new ArgumentException($"cannot fill {array.DType} with random floats");
            }
        }
    }
}
