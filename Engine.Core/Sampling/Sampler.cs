namespace Engine.Core.Sampling;

/// <summary>
/// Picks the next token on the host from a copy of the logits, in Hugging Face's processor order:
/// repetition penalty, temperature, top-k, top-p, min-p, then a draw from the softmax (or the
/// argmax when greedy). Math in double. One instance per request: it owns the seeded generator.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _random;
    private double[] _scores = [];
    private int[] _order = [];

    public Sampler(SamplingOptions options)
    {
        options.Validate();
        _options = options;
        _random = options.Seed is int seed ? new Random(seed) : new Random();
    }

    public SamplingOptions Options => _options;

    /// <summary>
    /// The chosen token id. <paramref name="history"/> holds prompt and generated ids (for the repetition
    /// penalty); its last <paramref name="generated"/> ids are the generated ones (for the frequency and
    /// presence penalties, which count generated tokens only, as OpenAI and vLLM do).
    /// </summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, int generated = 0)
    {
        int vocab = logits.Length;
        if (_scores.Length != vocab) _scores = new double[vocab];
        var scores = _scores;
        for (int i = 0; i < vocab; i++) scores[i] = logits[i];

        ApplyRepetitionPenalty(scores, history, _options.RepetitionPenalty);
        ApplyFrequencyPresence(scores, history[^Math.Min(generated, history.Length)..], _options.FrequencyPenalty, _options.PresencePenalty);
        if (_options.IsGreedy) return Argmax(scores);

        for (int i = 0; i < vocab; i++) scores[i] /= _options.Temperature;
        if (_options.TopK > 0 && _options.TopK < vocab) ApplyTopK(scores, _options.TopK);
        if (_options.TopP < 1) ApplyTopP(scores, _options.TopP);
        if (_options.MinP > 0) ApplyMinP(scores, _options.MinP);
        return Draw(scores);
    }

    /// <summary>OpenAI semantics: logit -= frequency * count + presence * (count &gt; 0) over the generated ids.</summary>
    public static void ApplyFrequencyPresence(double[] scores, ReadOnlySpan<int> generated, double frequency, double presence)
    {
        if ((frequency == 0 && presence == 0) || generated.IsEmpty) return;
        var counts = new Dictionary<int, int>();
        foreach (int id in generated) counts[id] = counts.GetValueOrDefault(id) + 1;
        foreach (var (id, count) in counts) scores[id] -= frequency * count + presence;
    }

    /// <summary>HF semantics: each id seen once or more has a positive logit divided by the penalty, a negative one multiplied.</summary>
    public static void ApplyRepetitionPenalty(double[] scores, ReadOnlySpan<int> history, double penalty)
    {
        if (penalty == 1.0) return;
        var seen = new HashSet<int>();
        foreach (int id in history)
        {
            if ((uint)id >= (uint)scores.Length || !seen.Add(id)) continue;
            scores[id] = scores[id] > 0 ? scores[id] / penalty : scores[id] * penalty;
        }
    }

    /// <summary>Keeps the scores at least as large as the k-th largest (ties with it are kept, as in HF).</summary>
    public static void ApplyTopK(double[] scores, int k)
    {
        var sorted = (double[])scores.Clone();
        Array.Sort(sorted);
        double kth = sorted[^k];
        for (int i = 0; i < scores.Length; i++)
            if (scores[i] < kth) scores[i] = double.NegativeInfinity;
    }

    /// <summary>Keeps the most probable tokens until their mass reaches p (a token is dropped once the mass above it is >= p; the top one always stays).</summary>
    public void ApplyTopP(double[] scores, double p) => ApplyTopP(scores, p, ref _order);

    /// <summary><see cref="ApplyTopP(double[], double)"/> with a caller-held order buffer (resized to the vocabulary as needed).</summary>
    public static void ApplyTopP(double[] scores, double p, ref int[] order)
    {
        var probs = Softmax(scores);
        SortDescending(probs, ref order);
        double massAbove = 0;
        for (int r = 0; r < order.Length; r++)
        {
            int id = order[r];
            if (r > 0 && massAbove >= p) scores[id] = double.NegativeInfinity;
            massAbove += probs[id];
        }
    }

    /// <summary>Drops tokens whose probability is below minP times the top probability.</summary>
    public static void ApplyMinP(double[] scores, double minP)
    {
        var probs = Softmax(scores);
        double threshold = probs.Max() * minP;
        for (int i = 0; i < scores.Length; i++)
            if (probs[i] < threshold) scores[i] = double.NegativeInfinity;
    }

    public static double[] Softmax(ReadOnlySpan<double> scores)
    {
        double max = double.NegativeInfinity;
        foreach (double s in scores) max = Math.Max(max, s);
        var probs = new double[scores.Length];
        double sum = 0;
        for (int i = 0; i < scores.Length; i++) { probs[i] = Math.Exp(scores[i] - max); sum += probs[i]; }
        for (int i = 0; i < probs.Length; i++) probs[i] /= sum;
        return probs;
    }

    /// <summary>Index of the largest score; ties go to the lowest index (as the device argmax).</summary>
    public static int Argmax(ReadOnlySpan<double> scores)
    {
        int best = 0;
        for (int i = 1; i < scores.Length; i++) if (scores[i] > scores[best]) best = i;
        return best;
    }

    private int Draw(double[] scores) => DrawFrom(scores, _random.NextDouble());

    /// <summary>The token a uniform draw u in [0, 1) picks from softmax(scores): the first, in id order, whose cumulative probability exceeds u.</summary>
    public static int DrawFrom(double[] scores, double u)
    {
        var probs = Softmax(scores);
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] == 0) continue;
            cumulative += probs[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last; // rounding left u above the total: the last token with mass
    }

    private static void SortDescending(double[] probs, ref int[] order)
    {
        if (order.Length != probs.Length) order = new int[probs.Length];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        // Stable on ties (lower id first), so results do not depend on the sort's internals.
        Array.Sort(order, (a, b) => probs[a] != probs[b] ? probs[b].CompareTo(probs[a]) : a.CompareTo(b));
    }
}
