using Engine.Core;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using ILGPU;
using ILGPU.Runtime;
using NUnit.Framework;

namespace Engine.Tests.Gpu;

/// <summary>
/// The tensor-core GEMM's tiling, fragment mapping and cp.async pipeline on ILGPU's CPU accelerator, with the
/// emulated mma.sync / ldmatrix / cp.async (<see cref="EmulatedMatrixCoreOps"/>), against float64 references; and the
/// emulated instructions themselves against the PTX ISA's fragment tables written out independently here.
/// </summary>
[NonParallelizable]
public sealed class TensorCoreMatMulTests
{
    [TestCase(DType.BF16, 130, 72, 136, 4)] // two block rows and columns, both ragged; k tail of 8
    [TestCase(DType.BF16, 128, 128, 128, 4)] // whole tiles, four k tiles through a 4-stage pipeline
    [TestCase(DType.F16, 7, 40, 9, 4)]
    [TestCase(DType.F16, 70, 104, 200, 2)] // the shallow pipeline
    [TestCase(DType.BF16, 2, 256, 20, 3)]
    public void MatchesTheFloat64Reference(DType dtype, int rows, int inDim, int outDim, int stages)
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        backend.TensorCoreEmulation = true;
        backend.TensorCoreStagesOverride = stages;
        var random = new Random(rows * 7919 + inDim * 31 + outDim);
        using var x = backend.RandomArray(DType.F32, rows * inDim, random);
        using var weight = backend.RandomArray(dtype, inDim * outDim, random);
        using var bias = backend.RandomArray(dtype, outDim, random);
        using var y = backend.Allocate(DType.F32, rows * outDim);
        backend.Linear(x, weight, bias, y, rows, inDim, outDim);

        var check = backend.KernelChecks.Single();
        Assert.That(check.Kernel, Is.EqualTo("TensorCoreMatMulKernel"));
        Assert.That(check.Passed, Is.True, check.Detail);
        double[] xs = Download(backend, x, DType.F32), ws = Download(backend, weight, dtype), bs = Download(backend, bias, dtype);
        double[] xNarrowed = xs.Select(v => dtype == DType.BF16 ? (double)RoundToBf16((float)v) : (double)(float)(System.Half)(float)v).ToArray();
        var actual = new float[rows * outDim];
        backend.Download<float>(y, actual);
        double roundingOfX = dtype == DType.BF16 ? 1.0 / 256 : 1.0 / 2048;
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outDim; o++)
            {
                double exact = bs[o], ofNarrowed = bs[o], magnitude = Math.Abs(bs[o]);
                for (int i = 0; i < inDim; i++)
                {
                    double w = ws[(long)o * inDim + i];
                    exact += xs[r * inDim + i] * w;
                    ofNarrowed += xNarrowed[r * inDim + i] * w;
                    magnitude += Math.Abs(xs[r * inDim + i] * w);
                }
                double value = actual[r * outDim + o];
                // The tiling is exact up to F32 summation order: against the product of the narrowed activations ...
                Assert.That(value, Is.EqualTo(ofNarrowed).Within(2e-6 * magnitude + 1e-6), $"row {r} column {o} (narrowed-x reference)");
                // ... and the narrowing of x is the only other error against the float64 product.
                Assert.That(value, Is.EqualTo(exact).Within(roundingOfX * magnitude + 1e-6), $"row {r} column {o}");
            }
    }

    [Test]
    public void ThePortableSetKeepsTheF32TiledKernel()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu, KernelSet.Portable)!;
        backend.TensorCoreEmulation = true;
        var random = new Random(5);
        using var x = backend.RandomArray(DType.F32, 3 * 64, random);
        using var weight = backend.RandomArray(DType.BF16, 64 * 8, random);
        using var y = backend.Allocate(DType.F32, 3 * 8);
        backend.Linear(x, weight, null, y, 3, 64, 8);
        Assert.That(backend.KernelChecks, Is.Empty);
    }

    [Test]
    public void AnInputDimensionOfPartialChunksUsesTheTiledKernel()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        backend.TensorCoreEmulation = true;
        var random = new Random(6);
        using var x = backend.RandomArray(DType.F32, 3 * 36, random);
        using var weight = backend.RandomArray(DType.BF16, 36 * 8, random);
        using var y = backend.Allocate(DType.F32, 3 * 8);
        backend.Linear(x, weight, null, y, 3, 36, 8); // 36 elements = 4.5 chunks of 16 bytes
        Assert.That(backend.KernelChecks, Is.Empty);
    }

    // ---- The emulated instructions against the PTX ISA's tables (one warp on the CPU accelerator) ----

    /// <summary>A (16x16 row-major) and B (16x8, element (k, n) at k * 8 + n) as bf16 bits; D (16x8) out.</summary>
    private static void MmaKernel(ArrayView<ushort> a, ArrayView<ushort> b, ArrayView<float> d)
    {
        var scratch = SharedMemory.Allocate<int>(8 * 1024);
        var ops = default(EmulatedMatrixCoreOps);
        int lane = Group.IdxX, g = lane >> 2, t = lane % 4;
        // PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type": ai for i < 2 or 4 <= i < 6 in row
        // groupID, else groupID + 8; column threadID_in_group * 2 + (i & 1), + 8 for i >= 4. Two ai per register.
        var fa = new Fragment4
        {
            R0 = Bits(a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]),
            R1 = Bits(a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]),
            R2 = Bits(a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]),
            R3 = Bits(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9]),
        };
        // bi: row threadID_in_group * 2 + (i & 1) (+ 8 for i >= 2), column groupID.
        uint b0 = Bits(b[2 * t * 8 + g], b[(2 * t + 1) * 8 + g]);
        uint b1 = Bits(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g]);
        var c = new MmaTile { C0 = 1f, C1 = 2f, C2 = 3f, C3 = 4f };
        var r = ops.Mma<BF16Mma>(c, fa, b0, b1, scratch);
        // ci: row groupID (i < 2) or groupID + 8, column threadID_in_group * 2 + (i & 1).
        d[g * 8 + 2 * t] = r.C0;
        d[g * 8 + 2 * t + 1] = r.C1;
        d[(g + 8) * 8 + 2 * t] = r.C2;
        d[(g + 8) * 8 + 2 * t + 1] = r.C3;
    }

    private static uint Bits(ushort low, ushort high) => low | ((uint)high << 16);

    [Test]
    public void EmulatedMmaFollowsTheFragmentTables()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var random = new Random(16816);
        ushort[] a = Enumerable.Range(0, 256).Select(_ => RoundToBf16Bits((float)(random.NextDouble() * 2 - 1))).ToArray();
        ushort[] b = Enumerable.Range(0, 128).Select(_ => RoundToBf16Bits((float)(random.NextDouble() * 2 - 1))).ToArray();
        var accelerator = backend.Accelerator;
        using var aBuffer = accelerator.Allocate1D(a);
        using var bBuffer = accelerator.Allocate1D(b);
        using var dBuffer = accelerator.Allocate1D<float>(128);
        accelerator.LoadStreamKernel<ArrayView<ushort>, ArrayView<ushort>, ArrayView<float>>(MmaKernel)(new KernelConfig(1, 32), aBuffer.View, bBuffer.View, dBuffer.View);
        float[] d = dBuffer.GetAsArray1D();
        for (int m = 0; m < 16; m++)
            for (int n = 0; n < 8; n++)
            {
                double expected = (m < 8 ? 1 : 3) + n % 2; // C: 1, 2 in rows 0-7; 3, 4 in rows 8-15
                for (int k = 0; k < 16; k++) expected += Bf16(a[m * 16 + k]) * Bf16(b[k * 8 + n]);
                Assert.That(d[m * 8 + n], Is.EqualTo(expected).Within(1e-5), $"D[{m}, {n}]");
            }
    }

    /// <summary>ldmatrix.x4 of a 16x16 tile (row stride 24 elements): each lane gives its row start; out: the four registers per lane.</summary>
    private static void LoadMatrixKernel(ArrayView<ushort> tile, ArrayView<uint> registers)
    {
        var shared = SharedMemory.Allocate<ushort>(16 * 24);
        var scratch = SharedMemory.Allocate<int>(8 * 1024);
        int lane = Group.IdxX;
        for (int i = lane; i < 16 * 24; i += 32) shared[i] = tile[i];
        Group.Barrier();
        // Lanes 8j..8j+7 address the rows of matrix j: matrices (rows 0-7 | 8-15) x (columns 0-7 | 8-15), row-block first.
        int row = lane % 8 + (lane / 8 % 2) * 8, column = lane / 16 * 8;
        var f = default(EmulatedMatrixCoreOps).LoadMatrixX4(shared, row * 24 + column, scratch);
        registers[lane * 4] = f.R0;
        registers[lane * 4 + 1] = f.R1;
        registers[lane * 4 + 2] = f.R2;
        registers[lane * 4 + 3] = f.R3;
    }

    [Test]
    public void EmulatedLoadMatrixGivesTheMmaAFragment()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        ushort[] tile = Enumerable.Range(0, 16 * 24).Select(i => (ushort)i).ToArray(); // element (r, c) = r * 24 + c
        var accelerator = backend.Accelerator;
        using var tileBuffer = accelerator.Allocate1D(tile);
        using var registers = accelerator.Allocate1D<uint>(128);
        accelerator.LoadStreamKernel<ArrayView<ushort>, ArrayView<uint>>(LoadMatrixKernel)(new KernelConfig(1, 32), tileBuffer.View, registers.View);
        uint[] r = registers.GetAsArray1D();
        for (int lane = 0; lane < 32; lane++)
        {
            int g = lane / 4, t = lane % 4;
            // Thread lane holds elements (g, 2t), (g, 2t + 1) of each 8x8 matrix: with the addressing above, the A fragment a0..a3.
            uint Expect(int row, int col) => (uint)(row * 24 + col) | ((uint)(row * 24 + col + 1) << 16);
            Assert.That(r[lane * 4], Is.EqualTo(Expect(g, 2 * t)), $"lane {lane} a0");
            Assert.That(r[lane * 4 + 1], Is.EqualTo(Expect(g + 8, 2 * t)), $"lane {lane} a1");
            Assert.That(r[lane * 4 + 2], Is.EqualTo(Expect(g, 2 * t + 8)), $"lane {lane} a2");
            Assert.That(r[lane * 4 + 3], Is.EqualTo(Expect(g + 8, 2 * t + 8)), $"lane {lane} a3");
        }
    }

    /// <summary>One thread: a copy lands only when a wait covers its commit group.</summary>
    private static void CopyAsyncKernel(ArrayView<ushort> source, ArrayView<ushort> seen)
    {
        var tiles = SharedMemory.Allocate<ushort>(16);
        var scratch = SharedMemory.Allocate<int>(8 * 1024);
        if (Group.IdxX != 0) return; // one thread's queue; the others would land their own copies of the same tile
        var ops = default(EmulatedMatrixCoreOps);
        ops.Begin(scratch);
        for (int i = 0; i < 16; i++) tiles[i] = 7;
        ops.CopyAsync16(tiles, 0, 0, 0, 0, true, scratch);
        ops.CommitGroup(scratch);
        ops.CopyAsync16(tiles, 8, 0, 0, 8, true, scratch);
        ops.CommitGroup(scratch);
        seen[0] = tiles[0]; // nothing waited for: both still in flight
        ops.WaitGroup(1, tiles, source, source, scratch);
        seen[1] = tiles[0]; // the older group landed
        seen[2] = tiles[8]; // the newer one may still be in flight
        ops.WaitGroup(0, tiles, source, source, scratch);
        seen[3] = tiles[8];
    }

    [Test]
    public void EmulatedCopiesLandOnlyWhenAWaitCoversThem()
    {
        using var backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;
        var accelerator = backend.Accelerator;
        using var source = accelerator.Allocate1D(Enumerable.Range(100, 16).Select(i => (ushort)i).ToArray());
        using var seen = accelerator.Allocate1D<ushort>(4);
        accelerator.LoadStreamKernel<ArrayView<ushort>, ArrayView<ushort>>(CopyAsyncKernel)(new KernelConfig(1, 32), source.View, seen.View);
        Assert.That(seen.GetAsArray1D(), Is.EqualTo(new ushort[] { 7, 100, 7, 108 }));
    }

    private static float RoundToBf16(float v) => BitConverter.UInt32BitsToSingle((uint)RoundToBf16Bits(v) << 16);

    private static ushort RoundToBf16Bits(float v)
    {
        uint u = BitConverter.SingleToUInt32Bits(v);
        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }

    private static double Bf16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    private static double[] Download(IlgpuBackend backend, DeviceArray array, DType dtype)
    {
        if (dtype == DType.F32)
        {
            var f = new float[array.Length];
            backend.Download<float>(array, f);
            return f.Select(v => (double)v).ToArray();
        }
        var bits = new ushort[array.Length];
        backend.Download<ushort>(array, bits);
        return dtype == DType.F16 ? bits.Select(b => (double)BitConverter.UInt16BitsToHalf(b)).ToArray() : bits.Select(Bf16).ToArray();
    }
}
