using Engine.Models.Benchmarks;
using NUnit.Framework;

namespace Engine.Tests.Benchmarks;

/// <summary>The steady-state decode rate both `bench --concurrency` and `bench --server` report.</summary>
public sealed class SteadyDecodeRateTests
{
    [Test]
    public void One_wave_counts_the_window_from_the_last_first_token_to_the_first_last_token()
    {
        // Two streams, a token every second; both decode from t=2 to t=10: tokens at 3..10 of both.
        double[] a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        double[] b = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        Assert.That(SteadyDecodeRate.Of([a, b], 2), Is.EqualTo(16.0 / 8));
    }

    [Test]
    public void A_successors_prefill_is_left_out()
    {
        // Two clients: stream c follows a after a gap of 5 (its prefill), during which only b decodes.
        double[] a = [0, 1, 2, 3, 4];
        double[] b = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        double[] c = [9, 10, 11, 12];
        // Full spans: (0, 4] (tokens 1..4 of a and b: 8) and (9, 12] (tokens 10..12 of b and c: 6) = 14 tokens in 7.
        Assert.That(SteadyDecodeRate.Of([a, b, c], 2), Is.EqualTo(14.0 / 7));
    }

    [Test]
    public void Chunks_carrying_several_tokens_count_each_token()
    {
        double[] a = [0, 1, 2, 3, 4];
        double[] b = [0, 1, 2, 3, 4];
        Assert.That(SteadyDecodeRate.Of([a, b], 2, [1.0, 2.0]), Is.EqualTo(12.0 / 4));
    }

    [Test]
    public void Without_a_moment_of_full_concurrency_the_whole_decode_span_counts()
    {
        double[] a = [0, 1, 2];
        double[] b = [5, 6, 7];
        Assert.That(SteadyDecodeRate.Of([a, b], 2), Is.EqualTo(4.0 / 7));
        Assert.That(SteadyDecodeRate.Of([], 2), Is.Zero);
    }
}
