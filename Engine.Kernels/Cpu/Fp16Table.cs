using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Engine.Kernels.Cpu;

/// <summary>
/// f16 to float through a 64K-entry table, as ggml does for block scales: .NET's Half conversion is a
/// software routine, too slow for one scale per 32 weights.
/// </summary>
internal static unsafe class Fp16Table
{
    private static readonly float* Table = Build();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(byte* half) => Table[*(ushort*)half];

    private static float* Build()
    {
        float* table = (float*)NativeMemory.AlignedAlloc(65536 * sizeof(float), 64); // lives for the process
        for (int i = 0; i < 65536; i++) table[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return table;
    }
}
