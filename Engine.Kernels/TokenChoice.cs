using Engine.Core.Sampling;

namespace Engine.Kernels;

/// <summary>
/// How one row's next token is chosen where its logits are (<see cref="IBackend.ChooseTokens"/>): Hugging Face's
/// processor order as the host <see cref="Sampler"/> (repetition penalty over the history, frequency and presence
/// penalties over the generated ids, then greedy argmax, or temperature, top-k, top-p, min-p and a draw), with the
/// draw's uniform number from a counter-based generator (<see cref="Uniform"/>: a hash of the seed and the number
/// of tokens generated so far), so a row's token depends on nothing but its own logits, settings and history:
/// the same alone or in any batch, on any backend that runs this algorithm.
/// Encoded for the device as <see cref="Ints"/> I32 values (doubles as their 64 bits, low word first).
/// </summary>
public readonly record struct TokenChoice(
    double Temperature, int TopK, double TopP, double MinP,
    double RepetitionPenalty, double FrequencyPenalty, double PresencePenalty,
    ulong Seed, int Counter, int HistoryStart, int HistoryLength, int Generated)
{
    /// <summary>I32 values per row in the device encoding.</summary>
    public const int Ints = 20;
    /// <summary>I32 values per row of the result: token (-1 when the logits were not finite), the first non-finite logit's index (-1 if none) and its F32 bits.</summary>
    public const int Outputs = 3;

    // Offsets in the encoding (doubles and the seed take two ints).
    internal const int TemperatureAt = 0, TopPAt = 2, MinPAt = 4, RepetitionAt = 6, FrequencyAt = 8, PresenceAt = 10,
        SeedAt = 12, TopKAt = 14, CounterAt = 15, HistoryStartAt = 16, HistoryLengthAt = 17, GeneratedAt = 18;

    public bool IsGreedy => Temperature == 0;

    /// <summary>A row's settings from its sampling options; history is where its prompt and generated ids lie in the history array.</summary>
    public static TokenChoice Of(SamplingOptions s, ulong seed, int counter, int historyStart, int historyLength, int generated) =>
        new(s.Temperature, s.TopK, s.TopP, s.MinP, s.RepetitionPenalty, s.FrequencyPenalty, s.PresencePenalty, seed, counter, historyStart, historyLength, generated);

    public void Write(Span<int> to)
    {
        PutDouble(to, TemperatureAt, Temperature); PutDouble(to, TopPAt, TopP); PutDouble(to, MinPAt, MinP);
        PutDouble(to, RepetitionAt, RepetitionPenalty); PutDouble(to, FrequencyAt, FrequencyPenalty); PutDouble(to, PresenceAt, PresencePenalty);
        to[SeedAt] = (int)(uint)Seed; to[SeedAt + 1] = (int)(uint)(Seed >> 32);
        to[TopKAt] = TopK; to[CounterAt] = Counter; to[HistoryStartAt] = HistoryStart; to[HistoryLengthAt] = HistoryLength; to[GeneratedAt] = Generated;
        to[(GeneratedAt + 1)..Ints].Clear();
    }

    public static TokenChoice Read(ReadOnlySpan<int> from) => new(
        GetDouble(from, TemperatureAt), from[TopKAt], GetDouble(from, TopPAt), GetDouble(from, MinPAt),
        GetDouble(from, RepetitionAt), GetDouble(from, FrequencyAt), GetDouble(from, PresenceAt),
        (uint)from[SeedAt] | (ulong)(uint)from[SeedAt + 1] << 32, from[CounterAt], from[HistoryStartAt], from[HistoryLengthAt], from[GeneratedAt]);

    private static void PutDouble(Span<int> to, int at, double value)
    {
        ulong bits = BitConverter.DoubleToUInt64Bits(value);
        to[at] = (int)(uint)bits;
        to[at + 1] = (int)(uint)(bits >> 32);
    }

    private static double GetDouble(ReadOnlySpan<int> from, int at) => BitConverter.UInt64BitsToDouble((uint)from[at] | (ulong)(uint)from[at + 1] << 32);

    /// <summary>SplitMix64's finaliser: a bijective 64-bit mix (kernels use the same arithmetic).</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The draw's uniform number in [0, 1) for a seed and the count of tokens generated before this one (53 random bits).</summary>
    public static double Uniform(ulong seed, int counter) => (Mix(seed ^ Mix((ulong)(uint)counter)) >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// The float64 reference of the algorithm, on the host: the <see cref="Sampler"/>'s steps on this row's logits with
    /// the counter-based draw. history holds every row's ids; this row's are [HistoryStart, HistoryStart + HistoryLength),
    /// the last <see cref="Generated"/> of them generated.
    /// </summary>
    public static Outcome Choose(ReadOnlySpan<float> logits, TokenChoice c, ReadOnlySpan<int> history)
    {
        for (int i = 0; i < logits.Length; i++)
            if (!float.IsFinite(logits[i])) return new Outcome(-1, i, BitConverter.SingleToInt32Bits(logits[i]));
        var scores = new double[logits.Length];
        for (int i = 0; i < logits.Length; i++) scores[i] = logits[i];
        var ids = history.Slice(c.HistoryStart, c.HistoryLength);
        Sampler.ApplyRepetitionPenalty(scores, ids, c.RepetitionPenalty);
        Sampler.ApplyFrequencyPresence(scores, ids[^Math.Min(c.Generated, ids.Length)..], c.FrequencyPenalty, c.PresencePenalty);
        if (c.IsGreedy) return new Outcome(Sampler.Argmax(scores), -1, 0);
        Mask(scores, c);
        return new Outcome(Sampler.DrawFrom(scores, Uniform(c.Seed, c.Counter)), -1, 0);
    }

    /// <summary>Temperature, top-k, top-p and min-p on penalised scores, in that order (masked scores become -inf).</summary>
    public static void Mask(double[] scores, TokenChoice c)
    {
        for (int i = 0; i < scores.Length; i++) scores[i] /= c.Temperature;
        if (c.TopK > 0 && c.TopK < scores.Length) Sampler.ApplyTopK(scores, c.TopK);
        int[] order = [];
        if (c.TopP < 1) Sampler.ApplyTopP(scores, c.TopP, ref order);
        if (c.MinP > 0) Sampler.ApplyMinP(scores, c.MinP);
    }

    /// <summary>A row's result: the token (-1 when a logit was not finite), and which logit was not finite and its bits.</summary>
    public readonly record struct Outcome(int Token, int BadIndex, int BadBits)
    {
        public void Write(Span<int> to) { to[0] = Token; to[1] = BadIndex; to[2] = BadBits; }
        public static Outcome Read(ReadOnlySpan<int> from) => new(from[0], from[1], from[2]);
    }
}
