using Engine.Core;
using Engine.Kernels;

namespace Engine.Models.Kv;

/// <summary>
/// Runs the attention column-sum op (<see cref="IAttentionScoreOps"/>) for a policy step and brings
/// the [kvHeads, length] sums to the host (a few floats per slot; the keys stay on the device).
/// </summary>
public static class AttentionScoreReader
{
    /// <summary>Column sums of the step's query rows [firstQuery, StepTokens) over the layer's slots, [kvHeads * length].</summary>
    public static float[] Read(KvStepContext step, int firstQuery)
    {
        if (step.Backend is not IAttentionScoreOps ops)
            throw new EngineException($"attention-scored KV policies are not supported on the {step.Backend.Name} backend");
        LayerKv layer = step.Sequence.Layers[step.Layer];
        long floats = (long)step.Pool.KvHeads * layer.PhysicalLength;
        DeviceArray sums = step.Scratch.ColumnSums(floats);
        ops.AttentionColumnSums(step.Queries, step.Pool, step.PageTable, layer.PhysicalLength, step.StepTokens, firstQuery, step.Shape, sums);
        var host = new float[floats];
        step.Backend.Download<float>(sums, host);
        return host;
    }
}
