using Engine.Core;
using Engine.Kernels;

namespace Engine.Models;

/// <summary>How a model is loaded: the device and the KV store's shape.</summary>
public sealed record EngineOptions
{
    /// <summary>auto, cuda, opencl, cpu or ilgpu-cpu (see <see cref="BackendFactory"/>).</summary>
    public string Device { get; init; } = "auto";
    /// <summary>ILGPU devices: fast kernels once they pass their self-check (default), or the portable set only (--kernels).</summary>
    public KernelSet Kernels { get; init; } = KernelSet.Fast;
    /// <summary>Quantize the checkpoint's matrices at load (Q8_0, Q4_0 or Q4_K; see <see cref="Engine.Core.Checkpoints.QuantizedCheckpoint"/>); null: as stored.</summary>
    public DType? Quantize { get; init; }
    /// <summary>Worker threads of the CPU backend (0: all cores).</summary>
    public int Threads { get; init; }
    /// <summary>Bytes for the KV pool; null: 90% of what is free after the weights, capped at what one full-context sequence needs.</summary>
    public long? KvMemoryBytes { get; init; }
    /// <summary>Slots per KV page (a power of two).</summary>
    public int PageSize { get; init; } = 16;
    /// <summary>KV element type; null: the model's dtype (F32 weights keep F32 KV).</summary>
    public DType? KvDType { get; init; }
    /// <summary>Largest sequence (prompt plus generated tokens); null: the model's max_position_embeddings.</summary>
    public int? ContextLimit { get; init; }
    /// <summary>Full-context sequences the default-sized KV pool holds at most (without <see cref="KvMemoryBytes"/>; more fit when they are shorter).</summary>
    public int PoolContexts { get; init; } = InferenceEngine.DefaultPoolContexts;
    /// <summary>Tokens one forward step may carry: every running sequence's decode token, then prefill chunks (a chunk larger than this runs as its step's only prefill).</summary>
    public int MaxBatchTokens { get; init; } = 512;
    /// <summary>Sequences admitted at once; more wait in the queue.</summary>
    public int MaxSequences { get; init; } = 64;
}
