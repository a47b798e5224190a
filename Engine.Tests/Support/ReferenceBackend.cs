using System.Runtime.InteropServices;
using Engine.Core;
using Engine.Kernels;

namespace Engine.Tests.Support;

/// <summary>
/// A plain scalar <see cref="IBackend"/> over managed arrays, written straight from the op contracts
/// (f32 math, one loop per op). Model tests run on it besides the real backends, so that the forward
/// pass, the paged store and generation are checked independently of any optimised kernel.
/// </summary>
public sealed class ReferenceBackend : IBackend
{
    private long _allocated, _peak;

    public string Name => "reference (scalar host)";
    public BackendKind Kind => BackendKind.SimdCpu;
    public TransferCounters Transfers { get; } = new();
    public long AllocatedBytes => _allocated;
    public long PeakAllocatedBytes => _peak;

    private sealed class HostArray : DeviceArray
    {
        private readonly ReferenceBackend? _owner;
        public HostArray(ReferenceBackend? owner, DType dtype, long length, byte[] storage, long byteOffset) : base(dtype, length)
        {
            _owner = owner; Storage = storage; ByteOffset = byteOffset;
        }
        public byte[] Storage { get; }
        public long ByteOffset { get; }
        private bool _disposed;

        public Span<T> As<T>() where T : unmanaged => MemoryMarshal.Cast<byte, T>(Storage.AsSpan((int)ByteOffset, (int)ByteLength));

        public override DeviceArray View(long offset, long length)
        {
            if (offset < 0 || length < 0 || offset + length > Length) throw new ArgumentOutOfRangeException(nameof(offset));
            return new HostArray(null, DType, length, Storage, ByteOffset + offset * DTypes.SizeOf(DType));
        }

        public override void Dispose()
        {
            if (_owner is null || _disposed) return;
            _disposed = true;
            _owner._allocated -= ByteLength;
        }
    }

    public DeviceArray Allocate(DType dtype, long length)
    {
        var array = new HostArray(this, dtype, length, new byte[length * DTypes.SizeOf(dtype)], 0);
        _allocated += array.ByteLength;
        _peak = Math.Max(_peak, _allocated);
        return array;
    }

    public void Upload<T>(DeviceArray dst, ReadOnlySpan<T> src, long dstOffset = 0) where T : unmanaged
    {
        src.CopyTo(Host(dst).As<T>()[(int)dstOffset..]);
        Transfers.AddToDevice(src.Length * (long)Marshal.SizeOf<T>());
    }

    public void Download<T>(DeviceArray src, Span<T> dst, long srcOffset = 0) where T : unmanaged
    {
        Host(src).As<T>().Slice((int)srcOffset, dst.Length).CopyTo(dst);
        Transfers.AddToHost(dst.Length * (long)Marshal.SizeOf<T>());
    }

    public void Synchronize() { }

    public void Embedding(DeviceArray table, DeviceArray tokens, DeviceArray output, int count, int hidden)
    {
        var ids = Host(tokens).As<int>();
        var o = F32(output);
        for (int i = 0; i < count; i++)
            for (int c = 0; c < hidden; c++) o[i * hidden + c] = Read(table, (long)ids[i] * hidden + c);
    }

    public void RmsNorm(DeviceArray x, DeviceArray weight, DeviceArray output, int rows, int dim, float eps)
    {
        var xs = F32(x); var o = F32(output);
        for (int r = 0; r < rows; r++)
        {
            float sum = 0;
            for (int c = 0; c < dim; c++) sum += xs[r * dim + c] * xs[r * dim + c];
            float inv = 1f / MathF.Sqrt(sum / dim + eps);
            for (int c = 0; c < dim; c++) o[r * dim + c] = xs[r * dim + c] * inv * Read(weight, c);
        }
    }

    public void Linear(DeviceArray x, DeviceArray weight, DeviceArray? bias, DeviceArray output, int rows, int inDim, int outDim)
    {
        var xs = F32(x); var o = F32(output);
        var w = Widen(weight, (long)outDim * inDim);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < outDim; j++)
            {
                float sum = 0;
                for (int i = 0; i < inDim; i++) sum += xs[r * inDim + i] * w[(long)j * inDim + i];
                o[r * outDim + j] = sum + (bias is null ? 0 : Read(bias, j));
            }
    }

    public void Rope(DeviceArray x, DeviceArray positions, DeviceArray invFreq, int rows, int heads, int headDim)
    {
        var xs = F32(x); var pos = Host(positions).As<int>(); var f = F32(invFreq);
        int half = headDim / 2;
        for (int r = 0; r < rows; r++)
            for (int h = 0; h < heads; h++)
            {
                int b = (r * heads + h) * headDim;
                for (int j = 0; j < half; j++)
                {
                    float angle = pos[r] * f[j];
                    float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
                    float a = xs[b + j], c = xs[b + j + half];
                    xs[b + j] = a * cos - c * sin;
                    xs[b + j + half] = c * cos + a * sin;
                }
            }
    }

    public void SiluMul(DeviceArray gate, DeviceArray up, DeviceArray output, long count)
    {
        var g = F32(gate); var u = F32(up); var o = F32(output);
        for (int i = 0; i < count; i++) o[i] = g[i] / (1f + MathF.Exp(-g[i])) * u[i];
    }

    public void Add(DeviceArray x, DeviceArray y, long count)
    {
        var xs = F32(x); var ys = F32(y);
        for (int i = 0; i < count; i++) xs[i] += ys[i];
    }

    public void KvWrite(KvPool pool, DeviceArray pageTable, DeviceArray keys, DeviceArray values, int startSlot, int rows)
    {
        var table = Host(pageTable).As<int>().ToArray();
        for (int r = 0; r < rows; r++) WriteRow(pool, table, startSlot + r, keys, values, r);
    }

    public void KvWrite(KvPool pool, KvBatchLayer batch, DeviceArray keys, DeviceArray values)
    {
        var rowSequence = Host(batch.RowSequence).As<int>(); var rowSlot = Host(batch.RowSlot).As<int>();
        for (int r = 0; r < batch.Rows; r++) WriteRow(pool, TableOf(batch, rowSequence[r]), rowSlot[r], keys, values, r);
    }

    private static void WriteRow(KvPool pool, int[] table, int slot, DeviceArray keys, DeviceArray values, int row)
    {
        var k = F32(keys); var v = F32(values);
        for (int h = 0; h < pool.KvHeads; h++)
        {
            long at = pool.Layout.SlotOffset(table, h, slot);
            for (int d = 0; d < pool.HeadDim; d++)
            {
                int src = (row * pool.KvHeads + h) * pool.HeadDim + d;
                Write(pool.Keys, at + d, k[src]);
                Write(pool.Values, at + d, v[src]);
            }
        }
    }

    public void Attention(DeviceArray q, KvPool pool, DeviceArray pageTable, int length, DeviceArray output, int queries, AttentionShape shape)
    {
        var table = Host(pageTable).As<int>().ToArray();
        for (int i = 0; i < queries; i++) AttendRow(q, pool, table, length - queries + i, output, i, shape);
    }

    public void Attention(DeviceArray q, KvPool pool, KvBatchLayer batch, DeviceArray output, AttentionShape shape)
    {
        var rowSequence = Host(batch.RowSequence).As<int>(); var rowSlot = Host(batch.RowSlot).As<int>();
        for (int r = 0; r < batch.Rows; r++) AttendRow(q, pool, TableOf(batch, rowSequence[r]), rowSlot[r], output, r, shape);
    }

    private static int[] TableOf(KvBatchLayer batch, int sequence) => Host(batch.PageTable(sequence)).As<int>().ToArray();

    /// <summary>Row <paramref name="row"/> of q attends to slots [0, lastSlot] of the layer with this page table.</summary>
    private static void AttendRow(DeviceArray q, KvPool pool, int[] table, int lastSlot, DeviceArray output, int row, AttentionShape shape)
    {
        var qs = F32(q); var o = F32(output);
        int hd = shape.HeadDim, visible = lastSlot + 1;
        var scores = new float[visible];
        for (int h = 0; h < shape.Heads; h++)
        {
            int kvh = h / shape.GroupSize;
            int qb = (row * shape.Heads + h) * hd;
            float max = float.NegativeInfinity;
            for (int s = 0; s < visible; s++)
            {
                long at = pool.Layout.SlotOffset(table, kvh, s);
                float dot = 0;
                for (int d = 0; d < hd; d++) dot += qs[qb + d] * Read(pool.Keys, at + d);
                scores[s] = dot * shape.Scale;
                max = MathF.Max(max, scores[s]);
            }
            float sum = 0;
            for (int s = 0; s < visible; s++) { scores[s] = MathF.Exp(scores[s] - max); sum += scores[s]; }
            for (int d = 0; d < hd; d++) o[qb + d] = 0;
            for (int s = 0; s < visible; s++)
            {
                long at = pool.Layout.SlotOffset(table, kvh, s);
                float p = scores[s] / sum;
                for (int d = 0; d < hd; d++) o[qb + d] += p * Read(pool.Values, at + d);
            }
        }
    }

    public int Argmax(DeviceArray x, int count) => IndexOfMax(F32(x)[..count]);

    public void ArgmaxRows(DeviceArray x, int rows, int count, DeviceArray output)
    {
        var xs = F32(x); var o = Host(output).As<int>();
        for (int r = 0; r < rows; r++) o[r] = IndexOfMax(xs.Slice(r * count, count));
    }

    public void GatherRows(DeviceArray x, DeviceArray rowIndices, DeviceArray output, int count, int dim)
    {
        var xs = F32(x); var ids = Host(rowIndices).As<int>(); var o = F32(output);
        for (int i = 0; i < count; i++) xs.Slice(ids[i] * dim, dim).CopyTo(o.Slice(i * dim, dim));
    }

    private static int IndexOfMax(Span<float> xs)
    {
        int best = 0;
        for (int i = 1; i < xs.Length; i++) if (xs[i] > xs[best]) best = i;
        return best;
    }

    public void Dispose() { }

    private static HostArray Host(DeviceArray a) => (HostArray)a;
    private static Span<float> F32(DeviceArray a) => Host(a).As<float>();

    private static float Read(DeviceArray a, long i) => a.DType switch
    {
        DType.F32 => Host(a).As<float>()[(int)i],
        DType.F16 => (float)BitConverter.UInt16BitsToHalf(Host(a).As<ushort>()[(int)i]),
        DType.BF16 => BFloat16.ToFloat(Host(a).As<ushort>()[(int)i]),
        _ => throw new ArgumentException($"not a float dtype: {a.DType}"),
    };

    private static void Write(DeviceArray a, long i, float value)
    {
        switch (a.DType)
        {
            case DType.F32: Host(a).As<float>()[(int)i] = value; break;
            case DType.F16: Host(a).As<ushort>()[(int)i] = BitConverter.HalfToUInt16Bits((Half)value); break;
            case DType.BF16: Host(a).As<ushort>()[(int)i] = BFloat16.FromFloat(value); break;
            default: throw new ArgumentException($"not a float dtype: {a.DType}");
        }
    }

    private static float[] Widen(DeviceArray a, long count)
    {
        var result = new float[count];
        for (long i = 0; i < count; i++) result[i] = Read(a, i);
        return result;
    }
}
