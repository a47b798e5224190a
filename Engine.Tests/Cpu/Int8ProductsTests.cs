using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Engine.Kernels.Cpu;
using NUnit.Framework;

namespace Engine.Tests.Cpu;

/// <summary>The AVX2 and AVX-VNNI forms of the quantized kernels' integer dot product against a scalar sum (whichever the CPU runs, both must agree).</summary>
public sealed class Int8ProductsTests
{
    [Test]
    public void Avx2AndVnniSumGroupsOfFourExactly()
    {
        if (!Avx2.IsSupported) Assert.Ignore("no AVX2 on this CPU");
        var rng = new Random(13);
        for (int trial = 0; trial < 200; trial++)
        {
            // u up to 128 with |s| <= 127: the range the kernels keep vpmaddubsw's int16 pairs in.
            var u = new byte[32];
            var s = new sbyte[32];
            for (int i = 0; i < 32; i++)
            {
                u[i] = (byte)rng.Next(0, trial % 2 == 0 ? 129 : 16);
                s[i] = (sbyte)rng.Next(-127, 128);
            }
            var expected = new int[8];
            for (int i = 0; i < 32; i++) expected[i / 4] += u[i] * s[i];
            var uv = Vector256.Create(u);
            var sv = Vector256.Create(s);
            Assert.That(ToArray(Int8Products.DotAvx2(uv, sv)), Is.EqualTo(expected), "AVX2");
            if (AvxVnni.IsSupported) Assert.That(ToArray(Int8Products.DotVnni(uv, sv)), Is.EqualTo(expected), "AVX-VNNI");
        }
    }

    private static int[] ToArray(Vector256<int> v)
    {
        var values = new int[8];
        v.CopyTo(values);
        return values;
    }
}
