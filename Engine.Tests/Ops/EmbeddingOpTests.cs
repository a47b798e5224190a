using Engine.Core;
using NUnit.Framework;

namespace Engine.Tests.Ops;

public sealed class EmbeddingOpTests(string backend) : OpTestBase(backend)
{
    [Test]
    public void GathersWidenedRows([Values(DType.F32, DType.F16, DType.BF16)] DType dtype, [Values(1, 7)] int count, [Values(8, 67)] int hidden)
    {
        var rng = Rng(dtype, count, hidden);
        const int vocab = 50;
        var table = TestTensor.Random(dtype, vocab * hidden, rng);
        int[] tokens = Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
        using var tableDev = table.ToDevice(Backend);
        using var tokensDev = TestTensor.Ints(Backend, tokens);
        using var output = Backend.Allocate(DType.F32, count * hidden);
        Backend.Embedding(tableDev, tokensDev, output, count, hidden);
        double[] actual = TestTensor.Download(Backend, output, count * hidden);
        Tolerance.AssertClose(OpReference.Embedding(table.Values, tokens, hidden), actual, 0, 0, "embedding");
    }
}
