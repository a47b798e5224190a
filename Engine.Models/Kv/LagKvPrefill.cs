using System.Globalization;
using Engine.Core;
using Engine.Core.Kv.LagKv;
using Engine.Models.Generation;

namespace Engine.Models.Kv;

/// <summary>`--prefill-chunk auto` under LagKV: a first chunk of S + 2L tokens, then chunks of L.</summary>
public static class LagKvPrefill
{
    /// <summary>
    /// Each chunk ends where a partition completes, so every compression happens as early as the
    /// schedule allows and the largest cache any chunk attends stays near S + k*J + 2L.
    /// </summary>
    public static PrefillSchedule Auto(LagKvOptions options)
    {
        int first = options.SinkSize + 2 * options.LagSize, next = options.LagSize;
        return PrefillSchedule.Custom($"auto (S+2L = {first}, then L = {next})", (index, _) => index == 0 ? first : next);
    }

    /// <summary>
    /// A prefill chunk as text: a token count (0: the whole prompt) or `auto` (with LagKV: S + 2L, then L;
    /// without: the default). <paramref name="what"/> names the input in errors (e.g. --prefill-chunk).
    /// </summary>
    public static PrefillSchedule Parse(string text, LagKvOptions? options, string what)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t == "auto") return options is null ? PrefillSchedule.Default : Auto(options);
        if (!int.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out int size))
            throw new EngineException($"{what} '{text}': expected a token count (0: whole prompt) or auto");
        return PrefillSchedule.Fixed(size);
    }
}
