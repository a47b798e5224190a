using Engine.Core;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Argmax over rows of count elements (ties to the lowest index): one group per row; each thread scans a
/// strided share, then a shared-memory tree reduction of (value, index) pairs. <see cref="Argmax"/> is
/// one row whose index (4 bytes) travels back to the host; <see cref="ArgmaxRows"/> leaves them on the device.
/// </summary>
public sealed partial class IlgpuBackend
{
    private const int ArgmaxThreads = 256;
    private DeviceArray? _argmaxResult;

    [KernelInstance]
    internal static void ArgmaxKernel(ArrayView<float> x, int count, ArrayView<int> result)
    {
        long rowBase = (long)Grid.IdxX * count;
        var bestValues = SharedMemory.Allocate<float>(ArgmaxThreads);
        var bestIndices = SharedMemory.Allocate<int>(ArgmaxThreads);
        int t = Group.IdxX;
        float best = float.NegativeInfinity;
        int bestIndex = -1;
        for (int i = t; i < count; i += Group.DimX)
        {
            float v = x[rowBase + i];
            if (bestIndex < 0 || v > best) { best = v; bestIndex = i; }
        }
        bestValues[t] = best;
        bestIndices[t] = bestIndex;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (t < half)
            {
                float otherValue = bestValues[t + half];
                int otherIndex = bestIndices[t + half];
                int mine = bestIndices[t];
                bool otherWins = otherIndex >= 0 && (mine < 0 || otherValue > bestValues[t] || (otherValue == bestValues[t] && otherIndex < mine));
                if (otherWins) { bestValues[t] = otherValue; bestIndices[t] = otherIndex; }
            }
            Group.Barrier();
        }
        if (t == 0) result[Grid.IdxX] = bestIndices[0];
    }

    public int Argmax(DeviceArray x, int count)
    {
        _argmaxResult ??= Allocate(DType.I32, 1);
        ArgmaxRows(x, 1, count, _argmaxResult);
        Span<int> index = stackalloc int[1];
        Download<int>(_argmaxResult, index);
        return index[0];
    }

    public void ArgmaxRows(DeviceArray x, int rows, int count, DeviceArray output)
    {
        Require(x.DType == DType.F32 && count > 0 && rows >= 0 && x.Length >= (long)rows * count, "argmax needs rows * count F32 elements, count > 0");
        Require(output.DType == DType.I32 && output.Length >= rows, "argmax rows output must be I32 [rows]");
        if (rows == 0) return;
        int threads = Kind == BackendKind.IlgpuCpu ? 64 : ArgmaxThreads;
        Kernel<ArrayView<float>, int, ArrayView<int>>(ArgmaxKernel)(new KernelConfig(rows, threads), ViewOf<float>(x), count, ViewOf<int>(output));
    }
}
