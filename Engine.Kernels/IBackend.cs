using Engine.Core;

namespace Engine.Kernels;

/// <summary>Which implementation runs the ops.</summary>
public enum BackendKind
{
    /// <summary>ILGPU on an NVIDIA GPU.</summary>
    Cuda,
    /// <summary>ILGPU on an OpenCL device.</summary>
    OpenCL,
    /// <summary>ILGPU's CPU accelerator: a simulator for testing kernels, not for speed.</summary>
    IlgpuCpu,
    /// <summary>The SIMD CPU backend (System.Numerics.Tensors, worker threads).</summary>
    SimdCpu,
}

/// <summary>Bytes moved between host and backend memory, counted by the backend.</summary>
public sealed class TransferCounters
{
    private long _toDevice, _toHost;
    public long BytesToDevice => Interlocked.Read(ref _toDevice);
    public long BytesToHost => Interlocked.Read(ref _toHost);
    public void AddToDevice(long bytes) => Interlocked.Add(ref _toDevice, bytes);
    public void AddToHost(long bytes) => Interlocked.Add(ref _toHost, bytes);
    /// <summary>Puts the counts back to a snapshot (the backend's own self-checks are not the caller's traffic).</summary>
    internal void Restore(long toDevice, long toHost)
    {
        Interlocked.Exchange(ref _toDevice, toDevice);
        Interlocked.Exchange(ref _toHost, toHost);
    }
}

/// <summary>
/// Device work the host issued, counted by the ILGPU backend the same way on every accelerator (the CPU
/// simulator and CUDA alike): kernel launches, and host syncs (every Synchronize and every Download, and an Upload
/// only where it waits: one too large for the pinned staging arena, or one that finds the arena full; see
/// IlgpuBackend.Staging.cs. An asynchronous copy is not a host sync).
/// </summary>
public sealed class LaunchCounters
{
    private long _launches, _syncs;
    public long KernelLaunches => Interlocked.Read(ref _launches);
    public long HostSyncs => Interlocked.Read(ref _syncs);
    public void AddLaunch() => Interlocked.Increment(ref _launches);
    public void AddHostSync() => Interlocked.Increment(ref _syncs);
    /// <summary>Puts the counts back to a snapshot (the backend's own self-checks are not the caller's work).</summary>
    internal void Restore(long launches, long syncs)
    {
        Interlocked.Exchange(ref _launches, launches);
        Interlocked.Exchange(ref _syncs, syncs);
    }
}

/// <summary>The shape of an attention call.</summary>
public readonly record struct AttentionShape(int Heads, int KvHeads, int HeadDim)
{
    public int GroupSize => Heads / KvHeads;
    public float Scale => 1f / MathF.Sqrt(HeadDim);
}

/// <summary>
/// The op set of the Llama/Qwen2 forward pass. Two implementations: ILGPU kernels (CUDA, OpenCL, the
/// CPU accelerator) and the SIMD CPU backend; both are checked against one float64 reference.
/// Activations are always F32; weights are F32, F16 or BF16 and are widened in registers with F32
/// accumulation. Ops are enqueued in order; <see cref="Synchronize"/> waits for them. Row-major
/// everywhere: a matrix [rows, cols] has element (r, c) at r * cols + c.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Human-readable device name, e.g. "cuda: NVIDIA H200" or "cpu-simd (2 threads)".</summary>
    string Name { get; }
    BackendKind Kind { get; }
    /// <summary>Host/device traffic through <see cref="Upload{T}"/> and <see cref="Download{T}"/>.</summary>
    TransferCounters Transfers { get; }
    /// <summary>Kernel launches and host syncs; null where the backend does not launch kernels (the SIMD CPU backend).</summary>
    LaunchCounters? Launches => null;
    /// <summary>Bytes currently allocated through <see cref="Allocate"/> and not yet disposed.</summary>
    long AllocatedBytes { get; }
    /// <summary>Peak of <see cref="AllocatedBytes"/>.</summary>
    long PeakAllocatedBytes { get; }
    /// <summary>Bytes the device could still allocate (sizes the default KV pool); null when the backend cannot tell (host memory is then assumed).</summary>
    long? AvailableMemoryBytes => null;

    DeviceArray Allocate(DType dtype, long length);
    /// <summary>Whether <see cref="Linear"/> and <see cref="Embedding"/> take weights of this dtype (block-quantized ones are dequantized at load otherwise).</summary>
    bool SupportsWeightType(DType dtype) => dtype is DType.F32 or DType.F16 or DType.BF16;
    /// <summary>
    /// Copies host data into <paramref name="dst"/> starting at element <paramref name="dstOffset"/>; T's size must match dst's dtype
    /// (ushort for F16/BF16, float, int; byte for block-quantized dtypes, whose offsets and lengths are then in bytes).
    /// </summary>
    void Upload<T>(DeviceArray dst, ReadOnlySpan<T> src, long dstOffset = 0) where T : unmanaged;
    /// <summary>Copies <paramref name="dst"/>.Length elements from <paramref name="src"/> starting at <paramref name="srcOffset"/> to the host; waits for pending work.</summary>
    void Download<T>(DeviceArray src, Span<T> dst, long srcOffset = 0) where T : unmanaged;
    void Synchronize();

    /// <summary>Makes the calling thread able to issue work (a CUDA context is current per thread); the engine loop calls it once on its thread.</summary>
    void BindToCurrentThread() { }

    /// <summary>output[i, :] = widen(table[tokens[i], :]) for i &lt; count. table [vocab, hidden] any weight dtype; tokens I32.</summary>
    void Embedding(DeviceArray table, DeviceArray tokens, DeviceArray output, int count, int hidden);

    /// <summary>output[r, :] = x[r, :] / sqrt(mean(x[r, :]^2) + eps) * weight. x, output F32 [rows, dim] (may alias); weight [dim] any dtype.</summary>
    void RmsNorm(DeviceArray x, DeviceArray weight, DeviceArray output, int rows, int dim, float eps);

    /// <summary>
    /// output[r, o] = sum_i x[r, i] * weight[o, i] (+ bias[o]). x F32 [rows, inDim]; weight [outDim, inDim]
    /// any dtype (HF layout); bias [outDim] any dtype or null; output F32 [rows, outDim]. rows == 1 is the
    /// decode matrix-vector product, rows &gt; 1 the prefill matrix-matrix product.
    /// </summary>
    void Linear(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim);

    /// <summary>
    /// In-place rotate-half RoPE (Hugging Face convention) on x F32 [rows, heads, headDim]: for
    /// j &lt; headDim/2, angle = positions[r] * invFreq[j]; (x[j], x[j + half]) becomes
    /// (x[j] cos - x[j + half] sin, x[j + half] cos + x[j] sin). positions I32 [rows]; invFreq F32 [headDim/2]
    /// already includes any rope scaling.
    /// </summary>
    void Rope(DeviceArray x, DeviceArray positions, DeviceArray invFreq, int rows, int heads, int headDim);

    /// <summary>output[i] = silu(gate[i]) * up[i] for i &lt; count (F32; output may alias gate).</summary>
    void SiluMul(DeviceArray gate, DeviceArray up, DeviceArray output, long count);

    /// <summary>x[i] += y[i] for i &lt; count (F32): the residual connection.</summary>
    void Add(DeviceArray x, DeviceArray y, long count);

    /// <summary>
    /// Writes rows keys/values (F32 [rows, kvHeads, headDim], keys already rotated) into the pool at
    /// slots startSlot .. startSlot+rows-1 of the layer whose page table (I32, page ids) is given,
    /// converting to the pool's dtype.
    /// </summary>
    void KvWrite(KvPool pool, DeviceArray pageTable, DeviceArray keys, DeviceArray values, int startSlot, int rows);

    /// <summary>
    /// Paged causal attention for <paramref name="queries"/> query rows q F32 [queries, heads, headDim]
    /// against a layer holding <paramref name="length"/> slots (the queries' own keys already written,
    /// as the last <paramref name="queries"/> slots). Query i sees slots [0, length - queries + i].
    /// output F32 [queries, heads * headDim]. queries == 1 is decode (the slot range split across
    /// thread groups and combined, flash-decoding style). GQA: query head h reads KV head h / GroupSize.
    /// </summary>
    void Attention(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, DeviceArray output, int queries, AttentionShape shape);

    /// <summary>
    /// Batched <see cref="KvWrite(KvPool, DeviceArray, DeviceArray, DeviceArray, int, int)"/>: writes each row's key and
    /// value (F32 [batch.Rows, kvHeads, headDim]) to its own sequence's slot (see <see cref="KvBatchLayer"/>).
    /// The default runs the per-sequence op once per sequence; backends override it with one dispatch.
    /// </summary>
    void KvWrite(KvPool pool, KvBatchLayer batch, DeviceArray keys, DeviceArray values)
    {
        long kvDim = (long)pool.KvHeads * pool.HeadDim;
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            KvWrite(pool, batch.PageTable(s), keys.View(seq.FirstRow * kvDim, seq.Rows * kvDim),
                values.View(seq.FirstRow * kvDim, seq.Rows * kvDim), seq.FirstSlot, seq.Rows);
        }
    }

    /// <summary>
    /// Batched <see cref="Attention(DeviceArray, KvPool, DeviceArray, int, DeviceArray, int, AttentionShape)"/>: row r
    /// (q F32 [batch.Rows, heads, headDim]) attends to slots [0, RowSlot[r]] of its own sequence's layer;
    /// output F32 [batch.Rows, heads * headDim]. The default runs the per-sequence op once per sequence.
    /// </summary>
    void Attention(DeviceArray q, KvPool pool, KvBatchLayer batch, DeviceArray output, AttentionShape shape)
    {
        long qDim = (long)shape.Heads * shape.HeadDim;
        for (int s = 0; s < batch.Sequences.Count; s++)
        {
            var seq = batch.Sequences[s];
            Attention(q.View(seq.FirstRow * qDim, seq.Rows * qDim), pool, batch.PageTable(s), seq.FirstSlot + seq.Rows,
                output.View(seq.FirstRow * qDim, seq.Rows * qDim), seq.Rows, shape);
        }
    }

    /// <summary>
    /// output[r, :] = RmsNorm(x[i, :]) weight^T (+ bias) with i = rowIndices[r] (or r when rowIndices is null): the
    /// normalisation fused into the following product (a decode step's input norm and q/k/v, the post-attention norm
    /// and gate/up, the final norm and the LM head over the rows that need logits). normed F32 [rows, inDim] is
    /// scratch the unfused composition uses (its contents are unspecified afterwards); weight [outDim, inDim] any dtype.
    /// </summary>
    void RmsNormLinear(DeviceArray x, DeviceArray? rowIndices, DeviceArray normWeight, float eps, DeviceArray weight, DeviceArray? bias,
        DeviceArray output, DeviceArray normed, int rows, int inDim, int outDim) =>
        FusedOps.RmsNormLinear(this, x, rowIndices, normWeight, eps, weight, bias, output, normed, rows, inDim, outDim);

    /// <summary>
    /// residual[r, :] += x[r, :] weight^T (+ bias): a product with the residual add in its epilogue (the output
    /// projection). product F32 [rows, outDim] is scratch of the unfused composition.
    /// </summary>
    void LinearResidual(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray residual, DeviceArray product, int rows, int inDim, int outDim) =>
        FusedOps.LinearResidual(this, x, weight, bias, residual, product, rows, inDim, outDim);

    /// <summary>
    /// residual[r, :] += (silu(gate[r, :]) * up[r, :]) weight^T (+ bias): SwiGLU as the down projection's input and the
    /// residual add in its epilogue. gate and up F32 [rows, inDim]; gate may be overwritten; product as in <see cref="LinearResidual"/>.
    /// </summary>
    void SiluMulLinearResidual(DeviceArray gate, DeviceArray up, DeviceArray weight, DeviceArray? bias, DeviceArray residual, DeviceArray product,
        int rows, int inDim, int outDim) =>
        FusedOps.SiluMulLinearResidual(this, gate, up, weight, bias, residual, product, rows, inDim, outDim);

    /// <summary>
    /// RoPE (as <see cref="Rope"/>) on q F32 [batch.Rows, heads, headDim] in place and on k F32 [batch.Rows, kvHeads, headDim],
    /// and the rotated keys written with the values into the pool (as the batched <c>KvWrite</c>): one pass for a
    /// step's positions. k's contents are unspecified afterwards.
    /// </summary>
    void RopeKvWrite(DeviceArray q, DeviceArray k, DeviceArray v, DeviceArray positions, DeviceArray invFreq, KvPool pool, KvBatchLayer batch, int heads) =>
        FusedOps.RopeKvWrite(this, q, k, v, positions, invFreq, pool, batch, heads);

    /// <summary>
    /// The next token of each of <paramref name="rows"/> rows of logits (F32 [rows, vocab]), chosen where the logits
    /// are: <paramref name="choices"/> I32 [rows, <see cref="TokenChoice.Ints"/>] holds each row's settings
    /// (<see cref="TokenChoice"/>: greedy or sampled, penalties, seed and counter) and where its ids lie in
    /// <paramref name="history"/> (I32); <paramref name="output"/> I32 [rows, <see cref="TokenChoice.Outputs"/>] gets
    /// (token, index of a non-finite logit or -1, that logit's bits). The default runs <see cref="TokenChoice.Choose"/> on the host.
    /// </summary>
    void ChooseTokens(DeviceArray logits, int rows, int vocab, DeviceArray choices, DeviceArray history, DeviceArray output) =>
        FusedOps.ChooseTokens(this, logits, rows, vocab, choices, history, output);

    /// <summary>Index of the largest of the first count elements of x (F32); ties go to the lowest index.</summary>
    int Argmax(DeviceArray x, int count);

    /// <summary>
    /// output[r] = the index of the largest of x[r, 0..count) for r &lt; rows (x F32 [rows, count], output I32
    /// [rows]); ties go to the lowest index. One dispatch for a batch's greedy rows; nothing leaves the device.
    /// </summary>
    void ArgmaxRows(DeviceArray x, int rows, int count, DeviceArray output);

    /// <summary>
    /// output[i, :] = x[rowIndices[i], :] for i &lt; count (x and output F32 [*, dim], rowIndices I32 [count]):
    /// e.g. the rows of a batch that need logits. The embedding gather over an F32 table, so one kernel serves both.
    /// </summary>
    void GatherRows(DeviceArray x, DeviceArray rowIndices, DeviceArray output, int count, int dim)
    {
        if (x.DType != DType.F32) throw new ArgumentException($"gather rows needs F32 rows, got {x.DType}");
        Embedding(x, rowIndices, output, count, dim);
    }
}
