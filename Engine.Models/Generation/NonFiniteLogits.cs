using Engine.Core;
using Engine.Kernels;

namespace Engine.Models.Generation;

/// <summary>
/// Raised when the logits a token would be chosen from are NaN or infinite (damaged weights, an
/// overflow): generation ends with finish reason error and never emits a token chosen from them.
/// </summary>
internal sealed class NonFiniteLogitsException(string message) : EngineException(message)
{
    /// <summary>Greedy on the device: only the chosen logit is read back (NaN spreads through a forward pass, so a fault shows there).</summary>
    public static void CheckChosen(IBackend backend, DeviceArray logits, int token)
    {
        Span<float> value = stackalloc float[1];
        backend.Download(logits, value, token);
        if (!float.IsFinite(value[0])) throw Fault($"the logit of the chosen token {token} is {value[0]}");
    }

    /// <summary>Sampling on the host: every logit is checked (the sampler reads them all anyway).</summary>
    public static void CheckAll(ReadOnlySpan<float> logits)
    {
        int bad = NonFiniteScan.IndexOf(logits);
        if (bad >= 0) throw Fault($"logit {bad} is {logits[bad]}");
    }

    private static NonFiniteLogitsException Fault(string what) =>
        new($"the logits turned non-finite ({what}); generation stopped. The weights or the numerics are broken (try --kv-dtype f32 or another --device)");
}
