using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>
/// The scalar <see cref="Support.ReferenceBackend"/> (what model tests run besides the real backends)
/// through the conformance cases of the batched and row ops, against the float64 reference.
/// </summary>
public sealed class ReferenceBackendOpTests
{
    private const string Reference = "reference";

    [Test]
    public void BatchedAttention([Values(DType.F32, DType.BF16)] DType poolType) => new AttentionOpTests(Reference).BatchMatchesReference(poolType, 4, 2, 16);

    [Test]
    public void BatchedKvWriteThenAttention() => new AttentionOpTests(Reference).BatchSeesKeysWrittenByBatchedKvWrite(DType.F16);

    [Test]
    public void BatchedKvWrite() => new KvWriteOpTests(Reference).BatchWritesEachRowToItsSequence(DType.BF16);

    [Test]
    public void ArgmaxRows() => new ArgmaxOpTests(Reference).ArgmaxRowsFindsEachRowsLargest(3, 1000);

    [Test]
    public void GatherRows() => new GatherRowsOpTests(Reference).CopiesTheIndexedRows(5, 8);
}
