using Engine.Core;
using Engine.Core.Checkpoints.Gguf;

namespace Engine.Kernels;

/// <summary>
/// The op-conformance cases as a runtime check (`engine selftest`): every op of a backend under test against
/// the SIMD CPU backend (itself tested against the float64 references in Engine.Tests) on identical random
/// inputs, for machines that have a GPU but no .NET SDK or test runner. Each case reports the largest
/// difference relative to the reference's scale: max |actual - expected| / (1 + max |expected|). The
/// block-quantized linear and embedding cases give the tested backend the quantized blocks (their
/// dequantized values where it has no kernels for the type, as model loading does) and the reference the
/// same blocks: make the reference the SIMD backend's portable kernels (float activations, exact), so the
/// tested backend's 8-bit activations show as a difference within <see cref="QuantizedTolerance"/>.
/// </summary>
public sealed class BackendConformance(IBackend tested, IBackend reference)
{
    public sealed record CaseResult(string Name, bool Passed, double Error, double Tolerance, string? Failure);

    private const double Tolerance = 2e-3; // both sum in F32 in different orders; 16-bit inputs are widened exactly
    /// <summary>Quantized linear: activations rounded to 8 bits per block (as llama.cpp) are off by up to 1/254 of each block's largest |x|.</summary>
    public const double QuantizedTolerance = 1.5e-2;
    private readonly Random _random = new(20261207);
    private readonly List<CaseResult> _results = [];

    private Func<string, bool> _selected = _ => true;

    /// <summary>Runs every case (or those whose name <paramref name="selected"/> accepts); a case that throws is a failure, never a crash.</summary>
    public IReadOnlyList<CaseResult> RunAll(Func<string, bool>? selected = null)
    {
        _selected = selected ?? (_ => true);
        foreach (var dtype in new[] { DType.F32, DType.F16, DType.BF16 })
        {
            string d = DTypes.SafetensorsName(dtype).ToLowerInvariant();
            Case($"embedding {d}", () => Embedding(dtype));
            Case($"rmsnorm {d}", () => RmsNorm(dtype));
            foreach (int rows in new[] { 1, 5, 70 })
                foreach (int inDim in new[] { 96, 50 })
                    Case($"linear {d} rows {rows} in {inDim}", () => Linear(dtype, rows, inDim, biasDType: dtype));
            Case($"linear {d} rows 1 with f32 bias", () => Linear(dtype, 1, 96, biasDType: DType.F32));
            foreach (var (length, queries) in new[] { (20, 20), (50, 7), (37, 1), (300, 1) })
                Case($"kv write + attention {d} pool, {queries} queries over {length} slots", () => Attention(dtype, length, queries));
            foreach (int rows in new[] { 1, 3, 12 })
            {
                Case($"rmsnorm + linear {d} rows {rows} (gathered)", () => RmsNormLinear(dtype, rows));
                Case($"linear + residual {d} rows {rows}", () => LinearResidual(dtype, rows, silu: false));
                Case($"silu*mul + linear + residual {d} rows {rows}", () => LinearResidual(dtype, rows, silu: true));
            }
            Case($"rope + kv write {d} pool, batch", () => RopeKvWrite(dtype));
        }
        foreach (var dtype in DTypes.BlockQuantized)
        {
            string d = DTypes.SafetensorsName(dtype).ToLowerInvariant();
            int block = DTypes.BlockLayout(dtype).Elements;
            Case($"embedding {d}", () => QuantizedEmbedding(dtype));
            foreach (int rows in new[] { 1, 3, 5, 70 })
                Case($"linear {d} rows {rows} in {3 * block}", () => QuantizedLinear(dtype, rows, 3 * block), QuantizedTolerance);
        }
        Case("token choice (greedy and sampled rows)", ChooseTokens);
        Case("rope", Rope);
        Case("silu*mul", SiluMul);
        Case("add", Add);
        Case("argmax", Argmax);
        return _results;
    }

    private void Case(string name, Func<double> run, double tolerance = Tolerance)
    {
        if (!_selected(name)) return;
        try
        {
            double error = run();
            _results.Add(new CaseResult(name, error <= tolerance, error, tolerance, null)); // NaN fails
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _results.Add(new CaseResult(name, false, double.NaN, tolerance, $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ").Trim()}"));
        }
    }

    private double QuantizedEmbedding(DType dtype)
    {
        const int vocab = 20, count = 6;
        int hidden = 2 * DTypes.BlockLayout(dtype).Elements;
        using var table = RandomBlocks(dtype, vocab * hidden);
        using var tokens = Ints([3, 0, 19, 17, 3, 11]);
        return Compare(count * hidden, (b, i, o) => b.Embedding(table[i], tokens[i], o, count, hidden));
    }

    private double QuantizedLinear(DType dtype, int rows, int inDim)
    {
        const int outDim = 37;
        using var x = Random(DType.F32, rows * inDim);
        using var weight = RandomBlocks(dtype, outDim * inDim);
        using var bias = Random(DType.F32, outDim);
        return Compare(rows * outDim, (b, i, o) => b.Linear(x[i], weight[i], bias[i], o, rows, inDim, outDim));
    }

    /// <summary>
    /// Random blocks (random bits, f16 scales set so weights are about +-0.1-1) on both backends; a backend
    /// without kernels for the type gets their dequantized F32 values.
    /// </summary>
    private Pair<DeviceArray> RandomBlocks(DType dtype, int length)
    {
        var (block, blockBytes) = DTypes.BlockLayout(dtype);
        var bytes = new byte[length / block * blockBytes];
        _random.NextBytes(bytes);
        int scaleAt = dtype == DType.Q6_K ? 208 : 0;
        float scale = dtype switch { DType.Q8_0 => 0.005f, DType.Q4_0 => 0.1f, DType.Q5_0 => 0.05f, DType.Q6_K => 0.0005f, _ => 0.003f };
        for (int b = 0; b < length / block; b++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(b * blockBytes + scaleAt), BitConverter.HalfToUInt16Bits((Half)scale));
            if (dtype is DType.Q4_K or DType.Q5_K) BitConverter.TryWriteBytes(bytes.AsSpan(b * blockBytes + 2), BitConverter.HalfToUInt16Bits((Half)scale));
        }
        DeviceArray Load(IBackend backend)
        {
            if (backend.SupportsWeightType(dtype))
            {
                var array = backend.Allocate(dtype, length);
                backend.Upload<byte>(array, bytes);
                return array;
            }
            var values = new float[length];
            GgufDequantizer.Dequantize(GgufCheckpoint.GgmlTypeOf(dtype), bytes, values, $"random {dtype}");
            var widened = backend.Allocate(DType.F32, length);
            backend.Upload<float>(widened, values);
            return widened;
        }
        return new Pair<DeviceArray>(Load(tested), Load(reference));
    }

    private double Embedding(DType dtype)
    {
        const int vocab = 50, hidden = 40, count = 6;
        using var table = Random(dtype, vocab * hidden);
        using var tokens = Ints([3, 0, 49, 17, 3, 22]);
        return Compare(count * hidden, (b, i, o) => b.Embedding(table[i], tokens[i], o, count, hidden));
    }

    private double RmsNorm(DType dtype)
    {
        const int rows = 3, dim = 96;
        using var x = Random(DType.F32, rows * dim);
        using var weight = Random(dtype, dim);
        return Compare(rows * dim, (b, i, o) => b.RmsNorm(x[i], weight[i], o, rows, dim, 1e-6f));
    }

    private double Linear(DType dtype, int rows, int inDim, DType biasDType)
    {
        const int outDim = 37;
        using var x = Random(DType.F32, rows * inDim);
        using var weight = Random(dtype, outDim * inDim);
        using var bias = Random(biasDType, outDim);
        return Compare(rows * outDim, (b, i, o) => b.Linear(x[i], weight[i], bias[i], o, rows, inDim, outDim));
    }

    private double Attention(DType poolType, int length, int queries)
    {
        var shape = new AttentionShape(Heads: 6, KvHeads: 2, HeadDim: 32);
        const int pageSize = 16;
        int pages = (length + pageSize - 1) / pageSize;
        int[] table = Enumerable.Range(0, pages + 2).OrderBy(_ => _random.Next()).Take(pages).ToArray();
        using var pools = new Pair<KvPool>(new KvPool(tested, pages + 2, shape.KvHeads, pageSize, shape.HeadDim, poolType),
            new KvPool(reference, pages + 2, shape.KvHeads, pageSize, shape.HeadDim, poolType));
        using var pageTable = Ints(table);
        int kvDim = shape.KvHeads * shape.HeadDim;
        using var keys = Random(DType.F32, length * kvDim);
        using var values = Random(DType.F32, length * kvDim);
        using var q = Random(DType.F32, queries * shape.Heads * shape.HeadDim);
        return Compare(queries * shape.Heads * shape.HeadDim, (b, i, o) =>
        {
            b.KvWrite(pools[i], pageTable[i], keys[i], values[i], 0, length);
            b.Attention(q[i], pools[i], pageTable[i], length, o, queries, shape);
        });
    }

    private double RmsNormLinear(DType dtype, int rows)
    {
        const int inDim = 96, outDim = 37, sourceRows = 13;
        using var x = Random(DType.F32, sourceRows * inDim);
        using var norm = Random(dtype, inDim);
        using var weight = Random(dtype, outDim * inDim);
        using var bias = Random(dtype, outDim);
        using var indices = Ints(Enumerable.Range(0, rows).Select(r => (r * 5 + 2) % sourceRows).ToArray());
        using var normed = Random(DType.F32, sourceRows * inDim);
        return Compare(rows * outDim, (b, i, o) => b.RmsNormLinear(x[i], indices[i], norm[i], 1e-6f, weight[i], bias[i], o, normed[i], rows, inDim, outDim));
    }

    private double LinearResidual(DType dtype, int rows, bool silu)
    {
        const int inDim = 64, outDim = 41;
        using var x = Random(DType.F32, rows * inDim);
        using var up = Random(DType.F32, rows * inDim);
        using var weight = Random(dtype, outDim * inDim);
        using var bias = Random(dtype, outDim);
        using var residual = Random(DType.F32, rows * outDim);
        using var product = Random(DType.F32, rows * outDim);
        return Compare(rows * outDim, (b, i, o) =>
        {
            b.Add(o, residual[i], rows * outDim); // o starts at zero: a copy of the residual
            if (silu) b.SiluMulLinearResidual(x[i], up[i], weight[i], bias[i], o, product[i], rows, inDim, outDim);
            else b.LinearResidual(x[i], weight[i], bias[i], o, product[i], rows, inDim, outDim);
        });
    }

    /// <summary>A decode row at slot 20 of one sequence and a 3-row chunk of another: q rotated, then the pool's keys and values.</summary>
    private double RopeKvWrite(DType poolType)
    {
        const int heads = 4, kvHeads = 2, headDim = 16, pageSize = 8, pages = 6, rows = 4;
        int qLength = rows * heads * headDim, kvLength = rows * kvHeads * headDim;
        using var pools = new Pair<KvPool>(new KvPool(tested, pages, kvHeads, pageSize, headDim, poolType), new KvPool(reference, pages, kvHeads, pageSize, headDim, poolType));
        using var rowSequence = Ints([0, 1, 1, 1]);
        using var rowSlot = Ints([20, 0, 1, 2]);
        using var tables = Ints([4, 1, 5, 2, 0, 3]); // stride 3
        using var positions = Ints([20, 0, 1, 2]);
        using var invFreq = Floats(Enumerable.Range(0, headDim / 2).Select(j => (float)Math.Pow(10000, -2.0 * j / headDim)).ToArray());
        using var q = Random(DType.F32, qLength);
        using var k = Random(DType.F32, kvLength);
        using var v = Random(DType.F32, kvLength);
        BatchSequence[] sequences = [new(0, 1, 20), new(1, 3, 0)];
        long poolLength = pools[0].Keys.Length;
        return Compare(qLength + (int)(2 * poolLength), (b, i, o) =>
        {
            var batch = new KvBatchLayer(sequences, 3, rowSequence[i], rowSlot[i], tables[i]);
            var rotated = o.View(0, qLength);
            b.Add(rotated, q[i], qLength);
            b.RopeKvWrite(rotated, k[i], v[i], positions[i], invFreq[i], pools[i], batch, heads);
            var keys = o.View(qLength, poolLength);
            var values = o.View(qLength + poolLength, poolLength);
            // The pool widened to F32 through the embedding gather (one row per page).
            long perPage = pools[i].ElementsPerPage;
            using var pageIds = b.Allocate(DType.I32, pages);
            b.Upload<int>(pageIds, Enumerable.Range(0, pages).ToArray());
            b.Embedding(pools[i].Keys, pageIds, keys, pages, (int)perPage);
            b.Embedding(pools[i].Values, pageIds, values, pages, (int)perPage);
        });
    }

    /// <summary>Four rows of random logits, greedy and sampled with penalties: the same tokens as the reference backend.</summary>
    private double ChooseTokens()
    {
        const int vocab = 300, rows = 4;
        var settings = new[]
        {
            TokenChoice.Of(new Core.Sampling.SamplingOptions { Temperature = 0 }, 0, 0, 0, 0, 0),
            TokenChoice.Of(new Core.Sampling.SamplingOptions { Temperature = 0, RepetitionPenalty = 1.3, PresencePenalty = 0.5 }, 0, 0, 0, 6, 2),
            TokenChoice.Of(new Core.Sampling.SamplingOptions { Temperature = 0.8, TopK = 40, TopP = 0.9, MinP = 0.01 }, 42, 3, 0, 0, 0),
            TokenChoice.Of(new Core.Sampling.SamplingOptions { Temperature = 1.1, TopP = 0.95, FrequencyPenalty = 0.4 }, 7, 11, 2, 4, 4),
        };
        var encoded = new int[rows * TokenChoice.Ints];
        for (int r = 0; r < rows; r++) settings[r].Write(encoded.AsSpan(r * TokenChoice.Ints, TokenChoice.Ints));
        using var logits = Random(DType.F32, rows * vocab);
        using var choices = Ints(encoded);
        using var history = Ints([5, 17, 5, 250, 17, 99]);
        using var outputs = new Pair<DeviceArray>(tested.Allocate(DType.I32, rows * TokenChoice.Outputs), reference.Allocate(DType.I32, rows * TokenChoice.Outputs));
        var actual = new int[rows * TokenChoice.Outputs];
        var expected = new int[rows * TokenChoice.Outputs];
        tested.ChooseTokens(logits[0], rows, vocab, choices[0], history[0], outputs[0]);
        reference.ChooseTokens(logits[1], rows, vocab, choices[1], history[1], outputs[1]);
        tested.Download<int>(outputs[0], actual);
        reference.Download<int>(outputs[1], expected);
        return actual.AsSpan().SequenceEqual(expected) ? 0 : double.PositiveInfinity;
    }

    private double Rope()
    {
        const int rows = 3, heads = 4, headDim = 16;
        using var x = Random(DType.F32, rows * heads * headDim);
        using var positions = Ints([0, 7, 100_000]);
        using var invFreq = Floats(Enumerable.Range(0, headDim / 2).Select(j => (float)Math.Pow(10000, -2.0 * j / headDim)).ToArray());
        return Compare(rows * heads * headDim, (b, i, o) =>
        {
            b.Add(o, x[i], rows * heads * headDim); // o starts at zero: a copy of x, rotated in place
            b.Rope(o, positions[i], invFreq[i], rows, heads, headDim);
        });
    }

    private double SiluMul()
    {
        const int count = 1000;
        using var gate = Random(DType.F32, count);
        using var up = Random(DType.F32, count);
        return Compare(count, (b, i, o) => b.SiluMul(gate[i], up[i], o, count));
    }

    private double Add()
    {
        const int count = 1000;
        using var y = Random(DType.F32, count);
        return Compare(count, (b, i, o) => { b.Add(o, y[i], count); b.Add(o, y[i], count); });
    }

    private double Argmax()
    {
        const int count = 777;
        using var x = Random(DType.F32, count);
        int expected = reference.Argmax(x[1], count), actual = tested.Argmax(x[0], count);
        return actual == expected ? 0 : double.PositiveInfinity;
    }

    /// <summary>Runs the op on both backends into zeroed F32 outputs of the given length and compares them.</summary>
    private double Compare(int length, Action<IBackend, int, DeviceArray> op)
    {
        var zeros = new float[length];
        using var outputs = new Pair<DeviceArray>(tested.Allocate(DType.F32, length), reference.Allocate(DType.F32, length));
        tested.Upload<float>(outputs[0], zeros);
        reference.Upload<float>(outputs[1], zeros);
        op(tested, 0, outputs[0]);
        op(reference, 1, outputs[1]);
        var actual = new float[length];
        var expected = new float[length];
        tested.Download<float>(outputs[0], actual);
        reference.Download<float>(outputs[1], expected);
        return RelativeDifference(actual, expected);
    }

    /// <summary>max |actual - expected| / (1 + max |expected|); NaN anywhere in actual makes it NaN.</summary>
    public static double RelativeDifference(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        double worst = 0, scale = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double diff = Math.Abs((double)actual[i] - expected[i]);
            if (!(diff <= worst)) worst = diff; // NaN sticks
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        return worst / (1 + scale);
    }

    /// <summary>The same random values in [-1, 1) on both backends.</summary>
    private Pair<DeviceArray> Random(DType dtype, int length)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = (float)(_random.NextDouble() * 2 - 1);
        return dtype switch
        {
            DType.F32 => Upload<float>(DType.F32, values),
            DType.F16 => Upload(DType.F16, values.Select(v => BitConverter.HalfToUInt16Bits((Half)v)).ToArray()),
            DType.BF16 => Upload(DType.BF16, values.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray()),
            _ => throw new ArgumentException($"no random {dtype} values"),
        };
    }

    private Pair<DeviceArray> Ints(int[] values) => Upload(DType.I32, values);
    private Pair<DeviceArray> Floats(float[] values) => Upload(DType.F32, values);

    private Pair<DeviceArray> Upload<T>(DType dtype, T[] values) where T : unmanaged
    {
        var pair = new Pair<DeviceArray>(tested.Allocate(dtype, values.Length), reference.Allocate(dtype, values.Length));
        tested.Upload<T>(pair[0], values);
        reference.Upload<T>(pair[1], values);
        return pair;
    }

    /// <summary>One object per backend: [0] on the tested backend, [1] on the reference.</summary>
    private sealed class Pair<T>(T tested, T reference) : IDisposable where T : IDisposable
    {
        public T this[int index] => index == 0 ? tested : reference;
        public void Dispose() { tested.Dispose(); reference.Dispose(); }
    }
}
