using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class GatherRowsOpTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void CopiesTheIndexedRows([Values(1, 5)] int count, [Values(8, 896)] int dim)
    {
        var rng = Rng(count, dim);
        const int rows = 7;
        var x = TestTensor.Random(DType.F32, rows * dim, rng);
        // Rows out of order, one repeated: e.g. the last row of each sequence of a batch.
        int[] indices = new[] { 6, 0, 3, 3, 5 }[..count];
        using var xDev = x.ToDevice(Backend);
        using var indicesDev = TestTensor.Ints(Backend, indices);
        using var output = Backend.Allocate(DType.F32, (long)count * dim);

        Backend.GatherRows(xDev, indicesDev, output, count, dim);

        Tolerance.AssertClose(OpReference.Embedding(x.Values, indices, dim), TestTensor.Download(Backend, output, (long)count * dim), 0, 0, "gathered rows");
    }
}
