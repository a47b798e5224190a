using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Uploads without a host wait. ILGPU's copy from a managed array synchronizes its stream; a copy from page-locked
/// (pinned) host memory is a plain asynchronous copy on the stream, ordered before the kernels launched after it.
/// So small uploads (a step's token ids, positions, page tables, sampling settings) are copied into a pinned staging
/// arena and sent from there. The arena is filled front to back and reused only after a host sync (every
/// <see cref="Synchronize"/> and <see cref="Download{T}"/>): until then the device may still be reading it. A decode
/// step ends with the download of its chosen tokens, so its uploads never wait; an upload that finds the arena full
/// waits first (counted as a host sync). Larger uploads (weights at load time) take ILGPU's synchronous copy.
/// </summary>
public sealed partial class IlgpuBackend
{
    /// <summary>Uploads up to this size go through the pinned arena.</summary>
    private const long MaxStagedUpload = 4L << 20;
    private const long StagingArenaBytes = 8L << 20;
    /// <summary>Staged copies start at multiples of this (DMA-friendly; keeps 16-byte element types aligned).</summary>
    private const long StagingAlignment = 256;

    private PageLockedArray1D<byte>? _staging;
    private long _stagingUsed;

    /// <summary>A window of <paramref name="bytes"/> of the pinned arena nothing in flight reads.</summary>
    private StagedBytes Staged(long bytes)
    {
        _staging ??= Accelerator.AllocatePageLocked1D<byte>(StagingArenaBytes);
        if (_stagingUsed + bytes > _staging.Length) Synchronize(); // the arena is full of copies that may not have landed
        long start = _stagingUsed;
        _stagingUsed = (start + bytes + StagingAlignment - 1) / StagingAlignment * StagingAlignment;
        return new StagedBytes(_staging, start, bytes);
    }

    private readonly struct StagedBytes(PageLockedArray1D<byte> arena, long start, long length)
    {
        public Span<byte> Span => arena.Span.Slice((int)start, (int)length);
        public ArrayView<byte> View => arena.ArrayView.SubView(start, length);
    }
}
