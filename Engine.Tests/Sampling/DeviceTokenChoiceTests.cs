using Engine.Core;
using Engine.Core.Sampling;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using NUnit.Framework;

namespace Engine.Tests.Sampling;

/// <summary>
/// Token choice on the device (ILGPU's CPU accelerator) against the float64 host reference (<see cref="TokenChoice.Choose"/>,
/// built from the host <see cref="Sampler"/>'s steps): the same masks, penalties and tokens on random logits, a draw
/// distribution that passes a chi-square test against the reference probabilities, determinism per seed, batch invariance.
/// </summary>
public sealed class DeviceTokenChoiceTests
{
    private IlgpuBackend _backend = null!;

    [OneTimeSetUp]
    public void CreateBackend() => _backend = IlgpuBackend.TryCreate(BackendKind.IlgpuCpu)!;

    [OneTimeTearDown]
    public void DisposeBackend() => _backend.Dispose();

    private static readonly SamplingOptions[] Settings =
    [
        new() { Temperature = 0.7 },
        new() { Temperature = 1.3, TopK = 10 },
        new() { Temperature = 1.0, TopP = 0.9 },
        new() { Temperature = 0.8, TopP = 0.5, TopK = 50 },
        new() { Temperature = 1.1, MinP = 0.05 },
        new() { Temperature = 0.9, TopK = 40, TopP = 0.95, MinP = 0.02 },
    ];

    [Test]
    public void MasksEqualTheHostSamplers([Range(0, 5)] int setting, [Values(false, true)] bool ties)
    {
        var rng = new Random(100 + setting * 2 + (ties ? 1 : 0));
        const int vocab = 300;
        var options = Settings[setting];
        for (int round = 0; round < 4; round++)
        {
            float[] logits = RandomLogits(rng, vocab, ties);
            var choice = TokenChoice.Of(options, 99, round, 0, 0, 0);
            Run(logits, vocab, [choice], []);
            double[] device = _backend.LastChoiceProbabilities(0, vocab);

            double[] scores = logits.Select(l => (double)l).ToArray();
            TokenChoice.Mask(scores, choice);
            double[] host = Sampler.Softmax(scores);
            for (int i = 0; i < vocab; i++)
            {
                Assert.That(device[i] > 0, Is.EqualTo(host[i] > 0), $"round {round}: token {i} kept on the host {host[i] > 0}, on the device {device[i] > 0}");
                Assert.That(device[i], Is.EqualTo(host[i]).Within(1e-12));
            }
        }
    }

    [Test]
    public void PenaltiesAndTokensEqualTheReference([Values(true, false)] bool greedy)
    {
        var rng = new Random(greedy ? 7 : 8);
        const int vocab = 64;
        for (int round = 0; round < 20; round++)
        {
            float[] logits = RandomLogits(rng, vocab, ties: false);
            int[] history = Enumerable.Range(0, 1 + rng.Next(30)).Select(_ => rng.Next(vocab)).ToArray();
            var options = new SamplingOptions
            {
                Temperature = greedy ? 0 : 0.5 + rng.NextDouble(), TopK = rng.Next(3) * 10, TopP = rng.Next(2) == 0 ? 1 : 0.9,
                RepetitionPenalty = 0.8 + rng.NextDouble() * 0.6, FrequencyPenalty = rng.NextDouble() - 0.5, PresencePenalty = rng.NextDouble() - 0.5,
            };
            var choice = TokenChoice.Of(options, (ulong)round * 31, round, 0, history.Length, rng.Next(history.Length + 1));
            var outcome = Run(logits, vocab, [choice], history)[0];
            Assert.That(outcome, Is.EqualTo(TokenChoice.Choose(logits, choice, history)), $"round {round}");
            if (greedy)
            {
                // The reference's penalties are the host sampler's: greedy with the same settings picks the same token.
                var sampler = new Sampler(options);
                Assert.That(outcome.Token, Is.EqualTo(sampler.Sample(logits, history, choice.Generated)));
            }
        }
    }

    [Test]
    public void DrawsFollowTheFloat64Distribution()
    {
        var rng = new Random(11);
        // Small on purpose: the simulator runs each row's group thread by thread (600 rows take minutes on a busy machine).
        const int vocab = 6, draws = 600;
        float[] logits = RandomLogits(rng, vocab, ties: false).Select(l => l / 5).ToArray(); // every token keeps real mass
        var options = new SamplingOptions { Temperature = 0.9, MinP = 0.02 }; // few group reductions per row: the simulator is slow
        var rows = Enumerable.Range(0, draws).Select(i => TokenChoice.Of(options, 12345, i, 0, 0, 0)).ToArray();
        var tokens = Run(Enumerable.Repeat(logits, draws).SelectMany(l => l).ToArray(), vocab, rows, []).Select(o => o.Token).ToArray();

        double[] scores = logits.Select(l => (double)l).ToArray();
        TokenChoice.Mask(scores, rows[0]);
        double[] expected = Sampler.Softmax(scores);
        var counts = new int[vocab];
        foreach (int token in tokens) counts[token]++;
        double chiSquare = 0;
        int kept = 0;
        for (int i = 0; i < vocab; i++)
        {
            if (expected[i] == 0) { Assert.That(counts[i], Is.Zero, $"masked token {i} drawn"); continue; }
            kept++;
            double e = expected[i] * draws;
            chiSquare += (counts[i] - e) * (counts[i] - e) / e;
        }
        // 99.9th percentile of chi-square with kept - 1 <= 5 degrees of freedom is 20.5.
        Assert.That(kept, Is.GreaterThan(3));
        Assert.That(chiSquare, Is.LessThan(20.5), $"counts {string.Join(",", counts)} vs expected {string.Join(",", expected.Select(p => (p * draws).ToString("F0")))}");
        // Deterministic per seed and counter; the reference draws the same tokens.
        Assert.That(Run(Enumerable.Repeat(logits, 50).SelectMany(l => l).ToArray(), vocab, rows[..50], []).Select(o => o.Token), Is.EqualTo(tokens[..50]));
        Assert.That(rows[..50].Select(c => TokenChoice.Choose(logits, c, []).Token), Is.EqualTo(tokens[..50]));
    }

    [Test]
    public void ABatchChoosesWhatEachRowChoosesAlone()
    {
        var rng = new Random(3);
        const int vocab = 50;
        int[] history = Enumerable.Range(0, 40).Select(_ => rng.Next(vocab)).ToArray();
        var rows = new[]
        {
            TokenChoice.Of(SamplingOptions.Greedy, 0, 0, 0, 0, 0),
            TokenChoice.Of(new SamplingOptions { Temperature = 0.8, TopK = 5, RepetitionPenalty = 1.3 }, 5, 3, 0, 20, 4),
            TokenChoice.Of(new SamplingOptions { Temperature = 1.2, TopP = 0.8, PresencePenalty = 1 }, 6, 9, 20, 20, 20),
        };
        float[] logits = RandomLogits(rng, vocab * rows.Length, ties: false);
        var together = Run(logits, vocab, rows, history);
        for (int r = 0; r < rows.Length; r++)
            Assert.That(Run(logits[(r * vocab)..((r + 1) * vocab)], vocab, [rows[r]], history)[0], Is.EqualTo(together[r]));
    }

    [Test]
    public void ANonFiniteLogitIsReportedNotChosen([Values(float.NaN, float.PositiveInfinity)] float bad)
    {
        float[] logits = RandomLogits(new Random(1), 40, ties: false);
        logits[17] = bad;
        logits[30] = float.NaN;
        var outcome = Run(logits, 40, [TokenChoice.Of(new SamplingOptions { Temperature = 0.7 }, 1, 0, 0, 0, 0)], [])[0];
        Assert.That(outcome, Is.EqualTo(new TokenChoice.Outcome(-1, 17, BitConverter.SingleToInt32Bits(bad))));
    }

    /// <summary>Logits in [-6, 6); with ties, on a grid of 0.5 so equal values are common.</summary>
    private static float[] RandomLogits(Random rng, int count, bool ties) =>
        Enumerable.Range(0, count).Select(_ => ties ? MathF.Round((float)(rng.NextDouble() * 12 - 6) * 2) / 2 : (float)(rng.NextDouble() * 12 - 6)).ToArray();

    private TokenChoice.Outcome[] Run(float[] logits, int vocab, TokenChoice[] rows, int[] history)
    {
        using var logitsDev = _backend.Allocate(DType.F32, logits.Length);
        using var choices = _backend.Allocate(DType.I32, rows.Length * TokenChoice.Ints);
        using var historyDev = _backend.Allocate(DType.I32, history.Length + 1);
        using var output = _backend.Allocate(DType.I32, rows.Length * TokenChoice.Outputs);
        _backend.Upload<float>(logitsDev, logits);
        var encoded = new int[rows.Length * TokenChoice.Ints];
        for (int r = 0; r < rows.Length; r++) rows[r].Write(encoded.AsSpan(r * TokenChoice.Ints, TokenChoice.Ints));
        _backend.Upload<int>(choices, encoded);
        _backend.Upload<int>(historyDev, [.. history, 0]);
        _backend.ChooseTokens(logitsDev, rows.Length, vocab, choices, historyDev, output);
        var results = new int[rows.Length * TokenChoice.Outputs];
        _backend.Download<int>(output, results);
        return Enumerable.Range(0, rows.Length).Select(r => TokenChoice.Outcome.Read(results.AsSpan(r * TokenChoice.Outputs))).ToArray();
    }
}
