using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>What a KV-cache policy sees after one layer's attention in a forward step, for one sequence of the batch.</summary>
/// <param name="Backend">The backend running the model.</param>
/// <param name="Pool">The KV page pool.</param>
/// <param name="Sequence">The sequence's pages, lengths (logical length not yet advanced by this step) and policy state.</param>
/// <param name="Layer">The layer whose attention just ran.</param>
/// <param name="PageTable">The layer's page table on the device (I32), matching Sequence.Layers[Layer].Pages.</param>
/// <param name="StepTokens">The sequence's tokens in this step (a prefill chunk, or 1 in decode).</param>
/// <param name="IsPrefill">True for prompt chunks, false for decode steps.</param>
/// <param name="IsLastPrefillChunk">True for the chunk that ends the prompt.</param>
/// <param name="Queries">The sequence's queries of this step after RoPE, F32 [StepTokens, heads, headDim] (SnapKV reads the last rows).</param>
/// <param name="Shape">Heads, KV heads and head dim.</param>
/// <param name="Scratch">Device scratch lent to the policy for this call.</param>
public sealed record KvStepContext(
    IBackend Backend,
    KvPool Pool,
    KvSequence Sequence,
    int Layer,
    DeviceArray PageTable,
    int StepTokens,
    bool IsPrefill,
    bool IsLastPrefillChunk,
    DeviceArray Queries,
    AttentionShape Shape,
    KvPolicyScratch Scratch)
{
    /// <summary>The sequence's state for this policy (created by <see cref="IKvCachePolicy.CreateState"/>).</summary>
    public TState State<TState>() where TState : KvPolicyState => (TState)Sequence.PolicyState!;
}

/// <summary>
/// A KV-cache policy (LagKV, StreamingLLM, SnapKV, H2O) hooked into the forward pass: a strategy with
/// no state of its own, so one instance may serve many sequences of one batch. What it remembers about
/// a sequence lives in the <see cref="KvPolicyState"/> it creates for that sequence
/// (<see cref="KvSequence.PolicyState"/>). The forward pass calls <see cref="AfterAttention"/> for every
/// layer of every step of every sequence using it, right after that layer's attention used the full
/// cache ("use, then compress"). A policy may shrink the layer (compact slots in the pool and call
/// LayerKv.Shrink).
/// </summary>
public interface IKvCachePolicy
{
    /// <summary>The policy's name: lagkv, streaming, snapkv or h2o.</summary>
    string Name { get; }

    /// <summary>Whether the policy ever compresses this layer (false: the layer keeps a full cache).</summary>
    bool Compresses(int layer);

    /// <summary>The state of a new sequence of <paramref name="layers"/> layers.</summary>
    KvPolicyState CreateState(int layers);

    void AfterAttention(KvStepContext step);
}

/// <summary>A policy's memory of one sequence: compressions per layer, and whatever a policy adds.</summary>
public class KvPolicyState(int layers)
{
    public int[] Compressions { get; } = new int[layers];

    /// <summary>LagKV's compressed grid partitions of a layer (J); 0 for policies without a grid.</summary>
    public virtual int CompressedPartitions(int layer) => 0;
}
