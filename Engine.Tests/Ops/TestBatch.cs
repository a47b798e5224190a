using Engine.Kernels;

namespace Engine.Tests.Ops;

/// <summary>
/// A batched step's KV addressing for tests: sequences with their rows and first slots, each with its
/// own page table of shuffled, non-contiguous pages of one pool, uploaded as a <see cref="KvBatchLayer"/>.
/// </summary>
public sealed class TestBatch : IDisposable
{
    private readonly IBackend _backend;
    private readonly DeviceArray _rowSequence, _rowSlot, _tables;

    private TestBatch(IBackend backend, BatchSequence[] sequences, int[][] tables, int stride)
    {
        _backend = backend;
        Sequences = sequences; Tables = tables;
        int rows = sequences.Sum(s => s.Rows);
        int[] rowSequence = new int[rows], rowSlot = new int[rows], flat = new int[sequences.Length * stride];
        for (int s = 0; s < sequences.Length; s++)
        {
            for (int r = 0; r < sequences[s].Rows; r++)
            {
                rowSequence[sequences[s].FirstRow + r] = s;
                rowSlot[sequences[s].FirstRow + r] = sequences[s].FirstSlot + r;
            }
            // Entries past the pages a sequence reaches hold another valid page: the kernels must not read it.
            for (int i = 0; i < stride; i++) flat[s * stride + i] = i < tables[s].Length ? tables[s][i] : tables[(s + 1) % tables.Length][0];
        }
        _rowSequence = TestTensor.Ints(backend, rowSequence);
        _rowSlot = TestTensor.Ints(backend, rowSlot);
        _tables = TestTensor.Ints(backend, flat);
        Layer = new KvBatchLayer(sequences, stride, _rowSequence, _rowSlot, _tables);
    }

    public BatchSequence[] Sequences { get; }
    /// <summary>Each sequence's page ids, as many as its rows reach.</summary>
    public int[][] Tables { get; }
    public KvBatchLayer Layer { get; }
    public int Rows => Layer.Rows;
    /// <summary>Pages the pool needs: every sequence's, plus spares no table holds.</summary>
    public int PageCount { get; private init; }

    /// <summary>
    /// Sequences of (rows, first slot) in that order: rows 1 is a decode row, more a prefill chunk over
    /// firstSlot cached slots. Pages are dealt from a shuffled pool with three spare pages.
    /// </summary>
    public static TestBatch Create(IBackend backend, int pageSize, (int Rows, int FirstSlot)[] shape, Random rng)
    {
        int[] needed = shape.Select(s => (s.FirstSlot + s.Rows + pageSize - 1) / pageSize).ToArray();
        int pageCount = needed.Sum() + 3;
        int[] ids = KvWriteOpTests.Shuffled(pageCount, rng);
        var tables = new int[shape.Length][];
        var sequences = new BatchSequence[shape.Length];
        int next = 0, row = 0;
        for (int s = 0; s < shape.Length; s++)
        {
            tables[s] = ids.Skip(next).Take(needed[s]).ToArray();
            next += needed[s];
            sequences[s] = new BatchSequence(row, shape[s].Rows, shape[s].FirstSlot);
            row += shape[s].Rows;
        }
        return new TestBatch(backend, sequences, tables, needed.Max() + 1) { PageCount = pageCount };
    }

    /// <summary>Sequence s alone: a batch of one over the same pages.</summary>
    public TestBatch Alone(int s) =>
        new(_backend, [Sequences[s] with { FirstRow = 0 }], [Tables[s]], Layer.TableStride) { PageCount = PageCount };

    public void Dispose()
    {
        _rowSequence.Dispose();
        _rowSlot.Dispose();
        _tables.Dispose();
    }
}
