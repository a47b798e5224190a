using Engine.Core.Kv.LagKv;

namespace Engine.Tests.LagKv;

/// <summary>
/// A float64-scored LagKV cache of one layer on the host, driven by <see cref="LagKvSchedule"/>:
/// tokens are appended in updates of any size and every due partition is compressed after each
/// update. It tracks which original token each slot of each KV head holds.
/// </summary>
public sealed class LagKvHostCache
{
    private readonly LagKvOptions _options;
    private readonly float[] _keys, _values; // [kvHeads, tokens, dim], the full input
    private readonly int _kvHeads, _tokens, _dim;
    private readonly List<int>[] _slots; // per KV head: original token index of each slot
    private readonly LagKvLayerState _state = new();

    public LagKvHostCache(LagKvOptions options, float[] keys, float[] values, int kvHeads, int tokens, int dim)
    {
        _options = options; _keys = keys; _values = values; _kvHeads = kvHeads; _tokens = tokens; _dim = dim;
        _slots = Enumerable.Range(0, kvHeads).Select(_ => new List<int>()).ToArray();
    }

    public int Seen { get; private set; }
    public int Length => _slots[0].Count;
    public int CompressedPartitions => _state.CompressedPartitions;
    public IReadOnlyList<int> Slots(int kvHead) => _slots[kvHead];

    /// <summary>Appends the next <paramref name="count"/> input tokens, then compresses what is due.</summary>
    public LagKvCompression? Update(int count)
    {
        if (Seen + count > _tokens) throw new ArgumentOutOfRangeException(nameof(count));
        foreach (var slots in _slots)
            for (int t = 0; t < count; t++) slots.Add(Seen + t);
        Seen += count;
        LagKvCompression? plan = LagKvSchedule.Plan(_options, _state.CompressedPartitions, Length);
        if (plan is { } c) Compress(c);
        return plan;
    }

    private void Compress(LagKvCompression c)
    {
        int lag = c.LagSize;
        for (int h = 0; h < _kvHeads; h++)
        {
            List<int> slots = _slots[h];
            var compacted = slots.Take(c.WindowStart).ToList();
            for (int p = 0; p < c.Partitions; p++)
            {
                int first = c.WindowStart + p * lag;
                float[] k = Rows(_keys, h, slots, first, lag), kr = Rows(_keys, h, slots, first + lag, lag);
                float[] v = Rows(_values, h, slots, first, lag), vr = Rows(_values, h, slots, first + lag, lag);
                double[] scores = LagKvHostReference.PartitionScores(k, kr, v, vr, lag, _dim, _options.ValueWeight);
                foreach (int i in LagKvHostReference.TopKAscending(scores, c.Keep)) compacted.Add(slots[first + i]);
            }
            compacted.AddRange(slots.Skip(c.TailSource).Take(c.TailLength));
            _slots[h] = compacted;
        }
        _state.Apply(c);
    }

    /// <summary>The rows of <paramref name="count"/> consecutive slots of one head, [count, dim].</summary>
    private float[] Rows(float[] data, int kvHead, List<int> slots, int firstSlot, int count)
    {
        var rows = new float[count * _dim];
        for (int i = 0; i < count; i++)
            Array.Copy(data, ((long)kvHead * _tokens + slots[firstSlot + i]) * _dim, rows, i * _dim, _dim);
        return rows;
    }
}
