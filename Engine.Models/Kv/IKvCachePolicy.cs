using Engine.Core.Kv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>What a KV-cache policy sees after one layer's attention in a forward step.</summary>
/// <param name="Backend">The backend running the model.</param>
/// <param name="Pool">The KV page pool.</param>
/// <param name="Sequence">The sequence's page tables and lengths (logical length not yet advanced by this step).</param>
/// <param name="Layer">The layer whose attention just ran.</param>
/// <param name="PageTable">The layer's page table on the device (I32), matching Sequence.Layers[Layer].Pages.</param>
/// <param name="StepTokens">Tokens in this step (a prefill chunk, or 1 in decode).</param>
/// <param name="IsPrefill">True for prompt chunks, false for decode steps.</param>
/// <param name="IsLastPrefillChunk">True for the chunk that ends the prompt.</param>
/// <param name="Queries">This step's queries after RoPE, F32 [StepTokens, heads, headDim] (SnapKV reads the last rows).</param>
/// <param name="Shape">Heads, KV heads and head dim.</param>
public sealed record KvStepContext(
    IBackend Backend,
    KvPool Pool,
    SequenceKv Sequence,
    int Layer,
    DeviceArray PageTable,
    int StepTokens,
    bool IsPrefill,
    bool IsLastPrefillChunk,
    DeviceArray Queries,
    AttentionShape Shape);

/// <summary>
/// A KV-cache policy (LagKV, StreamingLLM, SnapKV, H2O, or none) hooked into the forward pass. The
/// forward pass calls <see cref="AfterAttention"/> for every layer of every step, right after that
/// layer's attention used the full cache ("use, then compress"). A policy may shrink the layer
/// (compact slots in the pool and call LayerKv.Shrink); the model re-uploads the page table when the
/// layer's Version changes.
/// </summary>
public interface IKvCachePolicy
{
    void AfterAttention(KvStepContext step);
}
