using Engine.Core;
using Engine.Kernels;
using Engine.Models.Kv;

namespace Engine.Models;

/// <summary>A forward step's batch on the device: token ids, positions and each layer's KV addressing.</summary>
/// <param name="Rows">Rows of the step, all sequences together.</param>
/// <param name="Tokens">Token ids, I32 [rows].</param>
/// <param name="Positions">Logical positions, I32 [rows].</param>
/// <param name="Layers">Per layer: where each row's key and value go and which slots it attends to.</param>
/// <param name="Pool">The KV pool every sequence of the batch lives in.</param>
/// <param name="LogitRows">The rows the LM head runs on, I32 [logit rows], in entry order.</param>
internal sealed record ForwardBatch(int Rows, DeviceArray Tokens, DeviceArray Positions, KvBatchLayer[] Layers, KvPool Pool, DeviceArray LogitRows)
{
    /// <summary>Each sequence's rows in the step (the same for every layer).</summary>
    public IReadOnlyList<BatchSequence> Sequences => Layers[0].Sequences;
}

/// <summary>
/// Lays out a batch's token ids, positions, row-to-sequence map, the rows that need logits, per-layer
/// row slots and page tables in one host buffer and uploads it with one copy per step (page tables are rebuilt from the
/// sequences' pages every step, so nothing on the device goes stale when a policy frees pages).
/// </summary>
internal sealed class KvBatchBuilder(IBackend backend, int layers) : IDisposable
{
    private int[] _host = [];
    private DeviceArray? _device;

    public ForwardBatch Build(IReadOnlyList<BatchEntry> entries, int[] logitRowCount)
    {
        var cache = entries[0].Sequence.Cache;
        int rows = 0, stride = 1;
        foreach (var entry in entries)
        {
            if (!ReferenceEquals(entry.Sequence.Cache, cache)) throw new ArgumentException("the sequences of a batch must share one KV cache");
            if (entry.Sequence.IsDisposed) throw new ObjectDisposedException(nameof(KvSequence));
            rows += entry.Tokens.Length;
            foreach (var layer in entry.Sequence.Layers) stride = Math.Max(stride, layer.Pages.Count);
        }
        int logitRows = logitRowCount.Sum();
        int sequences = entries.Count, perLayer = rows + sequences * stride, head = 3 * rows + logitRows;
        int length = head + layers * perLayer;
        if (_host.Length < length) _host = new int[Math.Max(length, _host.Length * 2)];
        var host = _host.AsSpan(0, length);

        // [tokens][positions][row sequence][logit rows], then per layer [row slot][page tables].
        var perSequence = new BatchSequence[layers][];
        for (int l = 0; l < layers; l++) perSequence[l] = new BatchSequence[sequences];
        int row = 0, logitRow = 0;
        for (int e = 0; e < sequences; e++)
        {
            var sequence = entries[e].Sequence;
            var tokens = entries[e].Tokens.Span;
            for (int i = 0; i < tokens.Length; i++)
            {
                host[row + i] = tokens[i];
                host[rows + row + i] = sequence.LogicalLength + i; // positions are logical, whatever compression did to the slots
                host[2 * rows + row + i] = e;
            }
            // The LM head's rows: the entry's last ones.
            for (int i = tokens.Length - logitRowCount[e]; i < tokens.Length; i++) host[3 * rows + logitRow++] = row + i;
            for (int l = 0; l < layers; l++)
            {
                LayerKv layer = sequence.Layers[l];
                int firstSlot = layer.PhysicalLength - tokens.Length;
                if (firstSlot < 0) throw new InvalidOperationException("append a sequence's rows (KvSequence.Append) before its forward step");
                perSequence[l][e] = new BatchSequence(row, tokens.Length, firstSlot);
                int layerBase = head + l * perLayer;
                for (int i = 0; i < tokens.Length; i++) host[layerBase + row + i] = firstSlot + i;
                var table = host.Slice(layerBase + rows + e * stride, stride);
                for (int p = 0; p < layer.Pages.Count; p++) table[p] = layer.Pages[p];
                table[layer.Pages.Count..].Clear();
            }
            row += tokens.Length;
        }

        if (_device is null || _device.Length < length)
        {
            _device?.Dispose();
            _device = backend.Allocate(DType.I32, Math.Max(length, 2 * (_device?.Length ?? 0)));
        }
        var device = _device.View(0, length);
        backend.Upload<int>(device, host);
        var kvLayers = new KvBatchLayer[layers];
        for (int l = 0; l < layers; l++)
        {
            long layerBase = head + (long)l * perLayer;
            kvLayers[l] = new KvBatchLayer(perSequence[l], stride, device.View(2L * rows, rows), device.View(layerBase, rows),
                device.View(layerBase + rows, (long)sequences * stride));
        }
        return new ForwardBatch(rows, device.View(0, rows), device.View(rows, rows), kvLayers, cache.Pool, device.View(3L * rows, Math.Max(logitRows, 1)));
    }

    public void Dispose() => _device?.Dispose();
}
