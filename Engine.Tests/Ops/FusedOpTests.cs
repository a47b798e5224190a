using Engine.Core;
using Engine.Kernels;
using NUnit.Framework;

namespace Engine.Tests.Ops;

/// <summary>
/// The fused ops against the float64 references of the ops they fuse, on random inputs: rows 1-8 take the ILGPU fused
/// kernels (inDim 64 the 16-byte-load kernel, 37 the element kernel), rows 12 the unfused composition.
/// </summary>
public sealed class FusedOpTests(string backend) : OpTestBase(backend)
{
    private const float Eps = 1e-5f;

    [Test]
    public void RmsNormLinearMatchesReference([Values(DType.F32, DType.F16, DType.BF16)] DType dtype, [Values(1, 3, 12)] int rows,
        [Values(37, 64)] int inDim, [Values(false, true)] bool gathered)
    {
        var rng = Rng("norm", dtype, rows, inDim, gathered);
        const int outDim = 45, sourceRows = 14;
        var x = TestTensor.Random(DType.F32, sourceRows * inDim, rng, 3);
        var norm = TestTensor.Random(dtype, inDim, rng);
        var weight = TestTensor.Random(dtype, outDim * inDim, rng);
        var bias = TestTensor.Random(dtype, outDim, rng);
        int[] indices = Enumerable.Range(0, rows).Select(_ => rng.Next(sourceRows)).ToArray();
        using var xDev = x.ToDevice(Backend);
        using var normDev = norm.ToDevice(Backend);
        using var weightDev = weight.ToDevice(Backend);
        using var biasDev = bias.ToDevice(Backend);
        using var indicesDev = TestTensor.Ints(Backend, indices);
        using var normed = Backend.Allocate(DType.F32, sourceRows * inDim);
        using var output = Backend.Allocate(DType.F32, rows * outDim);
        Backend.RmsNormLinear(xDev, gathered ? indicesDev : null, normDev, Eps, weightDev, biasDev, output, normed, rows, inDim, outDim);

        double[] input = Enumerable.Range(0, rows).SelectMany(r => x.Values.Skip((gathered ? indices[r] : r) * inDim).Take(inDim)).ToArray();
        double[] expected = OpReference.Linear(OpReference.RmsNorm(input, norm.Values, rows, inDim, Eps), weight.Values, bias.Values, rows, inDim, outDim);
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, output, rows * outDim), 1e-4, 1e-4, "rmsnorm + linear");
    }

    [Test]
    public void LinearResidualMatchesReference([Values(DType.F32, DType.F16, DType.BF16)] DType dtype, [Values(1, 5, 12)] int rows, [Values(37, 64)] int inDim)
    {
        var rng = Rng("residual", dtype, rows, inDim);
        const int outDim = 33;
        var x = TestTensor.Random(DType.F32, rows * inDim, rng);
        var weight = TestTensor.Random(dtype, outDim * inDim, rng);
        var bias = TestTensor.Random(dtype, outDim, rng);
        var residual = TestTensor.Random(DType.F32, rows * outDim, rng, 4);
        using var xDev = x.ToDevice(Backend);
        using var weightDev = weight.ToDevice(Backend);
        using var biasDev = bias.ToDevice(Backend);
        using var residualDev = residual.ToDevice(Backend);
        using var product = Backend.Allocate(DType.F32, rows * outDim);
        Backend.LinearResidual(xDev, weightDev, biasDev, residualDev, product, rows, inDim, outDim);
        double[] expected = OpReference.Add(residual.Values, OpReference.Linear(x.Values, weight.Values, bias.Values, rows, inDim, outDim));
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, residualDev, rows * outDim), 1e-4, 1e-4, "linear + residual");
    }

    [Test]
    public void SiluMulLinearResidualMatchesReference([Values(DType.F32, DType.F16, DType.BF16)] DType dtype, [Values(1, 4, 12)] int rows, [Values(37, 64)] int inDim)
    {
        var rng = Rng("silu", dtype, rows, inDim);
        const int outDim = 29;
        var gate = TestTensor.Random(DType.F32, rows * inDim, rng, 6);
        var up = TestTensor.Random(DType.F32, rows * inDim, rng);
        var weight = TestTensor.Random(dtype, outDim * inDim, rng);
        var residual = TestTensor.Random(DType.F32, rows * outDim, rng, 4);
        using var gateDev = gate.ToDevice(Backend);
        using var upDev = up.ToDevice(Backend);
        using var weightDev = weight.ToDevice(Backend);
        using var residualDev = residual.ToDevice(Backend);
        using var product = Backend.Allocate(DType.F32, rows * outDim);
        Backend.SiluMulLinearResidual(gateDev, upDev, weightDev, null, residualDev, product, rows, inDim, outDim);
        double[] activated = OpReference.SiluMul(gate.Values, up.Values);
        double[] expected = OpReference.Add(residual.Values, OpReference.Linear(activated, weight.Values, null, rows, inDim, outDim));
        Tolerance.AssertClose(expected, TestTensor.Download(Backend, residualDev, rows * outDim), 1e-4, 1e-4, "silu*mul + linear + residual");
    }

    [Test]
    public void RopeKvWriteMatchesReference([Values(DType.F32, DType.F16, DType.BF16)] DType poolType)
    {
        var rng = Rng("rope kv", poolType);
        var layout = new KvLayout(KvHeads: 2, PageSize: 4, HeadDim: 8);
        const int heads = 6;
        using var batch = TestBatch.Create(Backend, layout.PageSize, AttentionOpTests.MixedBatch, rng);
        using var pool = new KvPool(Backend, batch.PageCount, layout.KvHeads, layout.PageSize, layout.HeadDim, poolType);
        int elements = (int)pool.ElementsPerPage * batch.PageCount, rows = batch.Rows;
        var oldKeys = TestTensor.Random(poolType, elements, rng);
        var oldValues = TestTensor.Random(poolType, elements, rng);
        oldKeys.UploadTo(Backend, pool.Keys);
        oldValues.UploadTo(Backend, pool.Values);
        var q = TestTensor.Random(DType.F32, rows * heads * layout.HeadDim, rng, 3);
        var k = TestTensor.Random(DType.F32, rows * layout.KvHeads * layout.HeadDim, rng, 3);
        var v = TestTensor.Random(DType.F32, rows * layout.KvHeads * layout.HeadDim, rng, 3);
        int[] positions = Enumerable.Range(0, rows).Select(_ => rng.Next(3000)).ToArray();
        float[] invFreq = Enumerable.Range(0, layout.HeadDim / 2).Select(j => (float)Math.Pow(10000.0, -2.0 * j / layout.HeadDim)).ToArray();
        using var qDev = q.ToDevice(Backend);
        using var kDev = k.ToDevice(Backend);
        using var vDev = v.ToDevice(Backend);
        using var positionsDev = TestTensor.Ints(Backend, positions);
        using var freqDev = TestTensor.FromFloats(DType.F32, invFreq).ToDevice(Backend);

        Backend.RopeKvWrite(qDev, kDev, vDev, positionsDev, freqDev, pool, batch.Layer, heads);

        Tolerance.AssertClose(OpReference.Rope(q.Values, positions, invFreq, rows, heads, layout.HeadDim), TestTensor.Download(Backend, qDev, q.Length), 2e-5, 1e-5, "q");
        float[] rotatedKeys = OpReference.Rope(k.Values, positions, invFreq, rows, layout.KvHeads, layout.HeadDim).Select(d => (float)d).ToArray();
        Func<float, double> store = f => TestTensor.RoundTo(poolType, f);
        double relative = poolType == DType.F32 ? 1e-5 : 1e-2; // one rounding step of the pool dtype either side of a float's last bit
        Tolerance.AssertClose(OpReference.KvWrite(oldKeys.Values, batch, rotatedKeys, layout, store), TestTensor.Download(Backend, pool.Keys, elements), 2e-5, relative, "keys");
        Tolerance.AssertClose(OpReference.KvWrite(oldValues.Values, batch, v.Floats!, layout, store), TestTensor.Download(Backend, pool.Values, elements), 0, 0, "values");
    }
}
