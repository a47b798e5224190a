using Engine.Core;
using Engine.Core.Kv;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// Runs the attention column-sum op (<see cref="IAttentionScoreOps"/>) for a policy step and brings
/// the [kvHeads, length] sums to the host (a few floats per slot; the keys stay on the device).
/// </summary>
public sealed class AttentionScoreReader : IDisposable
{
    private DeviceArray? _sums;

    /// <summary>Column sums of the step's query rows [firstQuery, StepTokens) over the layer's slots, [kvHeads * length].</summary>
    public float[] Read(KvStepContext step, int firstQuery)
    {
        if (step.Backend is not IAttentionScoreOps ops)
            throw new EngineException($"attention-scored KV policies are not supported on the {step.Backend.Name} backend");
        LayerKv layer = step.Sequence.Layers[step.Layer];
        long floats = (long)step.Pool.KvHeads * layer.PhysicalLength;
        if (_sums is null || _sums.Length < floats)
        {
            _sums?.Dispose();
            _sums = step.Backend.Allocate(DType.F32, Math.Max(floats, 256));
        }
        ops.AttentionColumnSums(step.Queries, step.Pool, step.PageTable, layer.PhysicalLength, step.StepTokens, firstQuery, step.Shape, _sums);
        var host = new float[floats];
        step.Backend.Download<float>(_sums, host);
        return host;
    }

    public void Dispose() => _sums?.Dispose();
}
