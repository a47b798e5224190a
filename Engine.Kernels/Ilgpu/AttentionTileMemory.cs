using ILGPU;

namespace Engine.Kernels.Ilgpu;

/// <summary>The shared memory of one attention tile (see IlgpuBackend.AttendTile): about 37 KB.</summary>
internal struct AttentionTileMemory
{
    /// <summary>[query][dimension]: the tile's scaled query vectors, and their unnormalised outputs.</summary>
    public ArrayView<float> Queries, Acc;
    /// <summary>[slot][dimension]: one block of K rows, then of V rows, widened to F32.</summary>
    public ArrayView<float> Slots;
    /// <summary>[query][slot]: scores, then probabilities, of the block.</summary>
    public ArrayView<float> Probs;
    /// <summary>Per query: running max, running sum, this block's rescale factor, slots visible to its row.</summary>
    public ArrayView<float> Maxes, Sums, Corrections;
    public ArrayView<int> Visible;
    /// <summary>Per slot of the block: its element offset in the pool (one page-table read per slot).</summary>
    public ArrayView<long> SlotBase;

    public static AttentionTileMemory Allocate() => new()
    {
        Queries = SharedMemory.Allocate<float>(IlgpuBackend.AttentionQueryFloats),
        Acc = SharedMemory.Allocate<float>(IlgpuBackend.AttentionQueryFloats),
        Slots = SharedMemory.Allocate<float>(IlgpuBackend.AttentionSlotFloats),
        Probs = SharedMemory.Allocate<float>(IlgpuBackend.MaxTileQueries * IlgpuBackend.AttentionSlotBlock),
        Maxes = SharedMemory.Allocate<float>(IlgpuBackend.MaxTileQueries),
        Sums = SharedMemory.Allocate<float>(IlgpuBackend.MaxTileQueries),
        Corrections = SharedMemory.Allocate<float>(IlgpuBackend.MaxTileQueries),
        Visible = SharedMemory.Allocate<int>(IlgpuBackend.MaxTileQueries),
        SlotBase = SharedMemory.Allocate<long>(IlgpuBackend.AttentionSlotBlock),
    };
}
