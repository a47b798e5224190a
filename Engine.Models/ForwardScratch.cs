using Engine.Core;
using Engine.Core.Config;
using Engine.Kernels;

namespace Engine.Models;

/// <summary>
/// The activation buffers of one forward step, F32, sized for <see cref="Rows"/> tokens and grown
/// when a longer prefill chunk arrives. Allocated once per model, not per step.
/// </summary>
internal sealed class ForwardScratch : IDisposable
{
    private readonly IBackend _backend;
    private readonly ModelConfig _config;
    private readonly List<DeviceArray> _arrays = [];

    public ForwardScratch(IBackend backend, ModelConfig config) { _backend = backend; _config = config; }

    public int Rows { get; private set; }
    public int LogitRows { get; private set; }
    /// <summary>The residual stream [rows, hidden] and a second hidden-sized buffer for branch outputs.</summary>
    public DeviceArray X { get; private set; } = null!;
    public DeviceArray Xb { get; private set; } = null!;
    /// <summary>Queries [rows, heads, headDim], keys and values [rows, kvHeads, headDim], attention output [rows, heads * headDim].</summary>
    public DeviceArray Q { get; private set; } = null!;
    public DeviceArray K { get; private set; } = null!;
    public DeviceArray V { get; private set; } = null!;
    public DeviceArray Attention { get; private set; } = null!;
    /// <summary>A decode step's q, k and v side by side [heads * headDim + 2 * kvDim] (the stacked projection's output) and views of each.</summary>
    public DeviceArray QkvRow { get; private set; } = null!;
    public DeviceArray QRow { get; private set; } = null!;
    public DeviceArray KRow { get; private set; } = null!;
    public DeviceArray VRow { get; private set; } = null!;
    /// <summary>A decode step's gate and up activations side by side [2 * intermediate] and views of each.</summary>
    public DeviceArray GateUpRow { get; private set; } = null!;
    public DeviceArray GateRow { get; private set; } = null!;
    public DeviceArray UpRow { get; private set; } = null!;
    /// <summary>MLP gate and up activations [rows, intermediate].</summary>
    public DeviceArray Gate { get; private set; } = null!;
    public DeviceArray Up { get; private set; } = null!;
    /// <summary>Logits [logitRows, vocab].</summary>
    public DeviceArray Logits { get; private set; } = null!;

    /// <summary>Makes sure the buffers hold <paramref name="rows"/> tokens and <paramref name="logitRows"/> rows of logits.</summary>
    public void Ensure(int rows, int logitRows)
    {
        if (rows <= Rows && logitRows <= LogitRows) return;
        Release();
        Rows = Math.Max(rows, Rows);
        LogitRows = Math.Max(logitRows, LogitRows);
        long r = Rows;
        X = Add(DType.F32, r * _config.HiddenSize);
        Xb = Add(DType.F32, r * _config.HiddenSize);
        Q = Add(DType.F32, r * _config.QueryDim);
        K = Add(DType.F32, r * _config.KvDim);
        V = Add(DType.F32, r * _config.KvDim);
        Attention = Add(DType.F32, r * _config.QueryDim);
        Gate = Add(DType.F32, r * _config.IntermediateSize);
        Up = Add(DType.F32, r * _config.IntermediateSize);
        Logits = Add(DType.F32, (long)LogitRows * _config.VocabSize);
        int q = _config.QueryDim, kv = _config.KvDim, inter = _config.IntermediateSize;
        QkvRow = Add(DType.F32, q + 2 * kv);
        (QRow, KRow, VRow) = (QkvRow.View(0, q), QkvRow.View(q, kv), QkvRow.View(q + kv, kv));
        GateUpRow = Add(DType.F32, 2 * inter);
        (GateRow, UpRow) = (GateUpRow.View(0, inter), GateUpRow.View(inter, inter));
    }

    private DeviceArray Add(DType dtype, long length)
    {
        var array = _backend.Allocate(dtype, length);
        _arrays.Add(array);
        return array;
    }

    private void Release()
    {
        foreach (var array in _arrays) array.Dispose();
        _arrays.Clear();
    }

    public void Dispose()
    {
        Release();
        Rows = 0;
        LogitRows = 0;
    }
}
