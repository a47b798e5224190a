using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>The four-rows-per-warp decode product (16-byte loads of weights and x) against a float64 reference on ILGPU's CPU accelerator.</summary>
public sealed class MatVecRowsKernelTests
{
    [TestCase(DType.F32, 96, 41)]
    [TestCase(DType.F32, 1000, 7)]
    [TestCase(DType.F16, 96, 64)]
    [TestCase(DType.BF16, 96, 1)]
    [TestCase(DType.BF16, 264, 37)]
    [TestCase(DType.BF16, 2048, 13)]
    public void MatchesTheFloat64Reference(DType dtype, int inDim, int outDim)
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var random = new Random(inDim * 31 + outDim);
        using var x = backend.RandomArray(DType.F32, inDim, random);
        using var weight = backend.RandomArray(dtype, inDim * outDim, random);
        using var bias = backend.RandomArray(dtype, outDim, random);
        using var y = backend.Allocate(DType.F32, outDim);
        backend.Linear(x, weight, bias, y, 1, inDim, outDim);

        var check = backend.KernelChecks.Single();
        Assert.That(check.Kernel, Is.EqualTo("MatVecRowsKernel"));
        Assert.That(check.Passed, Is.True, check.Detail);
        double[] xs = Widen(backend, x, DType.F32), ws = Widen(backend, weight, dtype), bs = Widen(backend, bias, dtype);
        var actual = new float[outDim];
        backend.Download<float>(y, actual);
        for (int o = 0; o < outDim; o++)
        {
            double expected = bs[o], magnitude = Math.Abs(bs[o]);
            for (int i = 0; i < inDim; i++)
            {
                expected += xs[i] * ws[(long)o * inDim + i];
                magnitude += Math.Abs(xs[i] * ws[(long)o * inDim + i]);
            }
            Assert.That(actual[o], Is.EqualTo(expected).Within(1e-6 * magnitude + 1e-6), $"row {o}");
        }
    }

    [Test]
    public void AnUnalignedInputUsesAnotherKernel()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var random = new Random(9);
        using var x = backend.RandomArray(DType.F32, 97, random);
        using var weight = backend.RandomArray(DType.BF16, 96 * 5, random);
        using var y = backend.Allocate(DType.F32, 5);
        backend.Linear(x.View(1, 96), weight, null, y, 1, 96, 5); // x 4 bytes past a 16-byte boundary
        Assert.That(backend.KernelChecks.Select(c => c.Kernel), Is.EqualTo(new[] { "MatVecPackedKernel" }));
    }

    private static double[] Widen(IlgpuBackend backend, DeviceArray array, DType dtype)
    {
        if (dtype == DType.F32)
        {
            var f = new float[array.Length];
            backend.Download<float>(array, f);
            return f.Select(v => (double)v).ToArray();
        }
        var bits = new ushort[array.Length];
        backend.Download<ushort>(array, bits);
        return dtype == DType.F16
            ? bits.Select(b => (double)BitConverter.UInt16BitsToHalf(b)).ToArray()
            : bits.Select(b => (double)BitConverter.UInt32BitsToSingle((uint)b << 16)).ToArray();
    }
}
