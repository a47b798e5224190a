using Engine.Core;

namespace Engine.Models.Generation;

/// <summary>
/// Whether the logits a token would be chosen from are NaN or infinite (damaged weights, an overflow):
/// generation then ends with finish reason error and never emits a token chosen from them. Each check
/// returns the one-line reason, or null when the logits are fine.
/// </summary>
internal static class NonFiniteLogits
{
    /// <summary>Greedy on the device: only the chosen logit is read back (NaN spreads through a forward pass, so a fault shows there).</summary>
    public static string? CheckChosen(float chosenLogit, int token) =>
        float.IsFinite(chosenLogit) ? null : Reason($"the logit of the chosen token {token} is {chosenLogit}");

    /// <summary>Sampling on the host: every logit is checked (the sampler reads them all anyway).</summary>
    public static string? CheckAll(ReadOnlySpan<float> logits)
    {
        int bad = NonFiniteScan.IndexOf(logits);
        return bad < 0 ? null : At(bad, logits[bad]);
    }

    /// <summary>Token choice on the device: it checks every logit and reports the first non-finite one.</summary>
    public static string At(int index, float value) => Reason($"logit {index} is {value}");

    private static string Reason(string what) =>
        $"the logits turned non-finite ({what}); generation stopped. The weights or the numerics are broken (try --kv-dtype f32 or another --device)";
}
